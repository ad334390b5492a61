"""A baseline per time of day and kind of day: a hall's 10:00 on a working day against earlier working days' 10:00.

A point's slot is its local (Asia/Shanghai) time of day rounded down to
`slot_s`; the kind of day comes from the Chinese working calendar, so a
public holiday is a rest day and a weekend day made a working day (调休) is a
working day. Period "day" keeps one profile for working days and one for
rest days. Period "week" keeps one profile per weekday for working days and
one rest-day profile; a working Saturday or Sunday learns into a profile of
its own and, until that holds `min_samples` values (a few such days come in a
year), is judged against the Monday-to-Friday values of its slot pooled.

Each slot keeps its last `per_slot` values and scores by their median and
MAD (floored like every detector's spread); a slot with fewer than
`min_samples` values judges unarmed, so a lunch dip or a closed Sunday is
never compared with a busy morning.
"""

from __future__ import annotations

import math
from array import array
from datetime import date, datetime
from typing import Any, ClassVar, Literal

import numpy as np

from streams.detectors.base import Verdict
from streams.detectors.params import check_count, check_floors, check_snapshot
from streams.detectors.spread import (
    DEFAULT_MIN_SPREAD,
    DEFAULT_MIN_SPREAD_RATIO,
    floored,
    robust_stats,
    unknown_value,
    verdict_of,
)
from streams.workdays import DEFAULT, SHANGHAI

Period = Literal["day", "week"]
PERIODS: tuple[Period, ...] = ("day", "week")
DAY_S = 86400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SeasonalDetector:
    """A point against the median and MAD of its slot's last values on the same kind of day."""

    kind: ClassVar[str] = "seasonal"

    def __init__(
        self,
        *,
        period: Period = "day",
        slot_s: int = 1800,
        per_slot: int = 8,
        min_samples: int = 4,
        min_spread_ratio: float = DEFAULT_MIN_SPREAD_RATIO,
        min_spread: float = DEFAULT_MIN_SPREAD,
    ) -> None:
        if period not in PERIODS:
            raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
        check_count("slot_s", slot_s, 60)
        if slot_s > DAY_S or DAY_S % slot_s:
            raise ValueError(f"slot_s must divide a day (86400 s) evenly, got {slot_s!r}")
        check_count("per_slot", per_slot, 1)
        check_count("min_samples", min_samples, 1)
        if min_samples > per_slot:
            raise ValueError(f"min_samples ({min_samples}) cannot exceed per_slot ({per_slot}): no slot would arm")
        check_floors(min_spread_ratio, min_spread)
        self.period: Period = period
        self.slot_s = slot_s
        self.per_slot = per_slot
        self.min_samples = min_samples
        self.min_spread_ratio = float(min_spread_ratio)
        self.min_spread = float(min_spread)
        #: Each profile slot's last values, oldest first, by key ("work:18", "rest:18", "mon:18", "sat:18").
        self._slots: dict[str, array[float]] = {}
        self._points = 0
        #: (median, floored spread, values) of a slot as it is; dropped when the slot learns.
        self._baselines: dict[str, tuple[float, float, int]] = {}
        #: The last local day looked up in the calendar and whether it is a working day.
        self._day: tuple[date, bool] | None = None

    @property
    def points(self) -> int:
        return self._points

    def params(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "slot_s": self.slot_s,
            "per_slot": self.per_slot,
            "min_samples": self.min_samples,
            "min_spread_ratio": self.min_spread_ratio,
            "min_spread": self.min_spread,
        }

    def _is_workday(self, day: date) -> bool:
        if self._day is None or self._day[0] != day:
            self._day = (day, DEFAULT.is_workday(day))
        return self._day[1]

    def _keys(self, at: datetime) -> tuple[str, tuple[str, ...]]:
        """The slot `at` learns into, and the slots it is judged against."""
        if at.tzinfo is None:
            raise ValueError(f"a seasonal detector needs timezone-aware times, got {at.isoformat()}")
        local = at.astimezone(SHANGHAI)
        slot = (local.hour * 3600 + local.minute * 60 + local.second) // self.slot_s
        workday = self._is_workday(local.date())
        if not workday:
            key = f"rest:{slot}"
            return key, (key,)
        if self.period == "day":
            key = f"work:{slot}"
            return key, (key,)
        weekday = local.weekday()
        key = f"{WEEKDAYS[weekday]}:{slot}"
        if weekday < 5 or len(self._slots.get(key, ())) >= self.min_samples:
            return key, (key,)
        return key, tuple(f"{name}:{slot}" for name in WEEKDAYS[:5])

    def _baseline(self, keys: tuple[str, ...]) -> tuple[float, float, int]:
        if len(keys) == 1 and keys[0] in self._baselines:
            return self._baselines[keys[0]]
        held = [self._slots[key] for key in keys if key in self._slots]
        values = np.concatenate([np.frombuffer(a, dtype=np.float64) for a in held]) if held else np.empty(0)
        if values.size == 0:
            baseline = (0.0, self.min_spread, 0)
        else:
            median, spread, scale = robust_stats(values)
            baseline = (median, floored(spread, scale, self.min_spread_ratio, self.min_spread), int(values.size))
        if len(keys) == 1:
            self._baselines[keys[0]] = baseline
        return baseline

    def judge(self, at: datetime, value: float) -> Verdict:
        _, keys = self._keys(at)
        median, spread, held = self._baseline(keys)
        if not math.isfinite(value):
            return unknown_value(median, spread)
        return verdict_of(value, median, spread, held >= self.min_samples)

    def learn(self, at: datetime, value: float) -> None:
        """Add a point to its slot, dropping the slot's oldest beyond per_slot; a non-finite value is skipped."""
        if not math.isfinite(value):
            return
        key, _ = self._keys(at)
        values = self._slots.setdefault(key, array("d"))
        values.append(value)
        if len(values) > self.per_slot:
            del values[0]
        self._baselines.pop(key, None)
        self._points += 1

    def observe(self, at: datetime, value: float) -> Verdict:
        verdict = self.judge(at, value)
        self.learn(at, value)
        return verdict

    def snapshot(self) -> dict[str, Any]:
        slots = {key: values.tolist() for key, values in self._slots.items()}
        return {"kind": self.kind, "params": self.params(), "state": {"points": self._points, "slots": slots}}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> SeasonalDetector:
        params, state = check_snapshot(snapshot, cls.kind)
        detector = cls(**params)
        for key, values in dict(state["slots"]).items():
            if len(values) > detector.per_slot:
                raise ValueError(f"snapshot slot {key} holds {len(values)} values, more than per_slot")
            detector._slots[str(key)] = array("d", (float(v) for v in values))
        detector._points = int(state["points"])
        return detector
