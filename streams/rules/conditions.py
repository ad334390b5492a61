"""Conditions on indicators, shared by the threshold, ratio and spike rules and by composite rules.

A condition names an indicator of the catalogue and a window size; it is
checked against the catalogue (the indicator exists, has that window, can be
computed per the rule's group keys and scope) by `condition_problems`, which returns
(field, message) pairs instead of raising so a rule can report all of them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from streams.detectors import HALF_SCORE_Z, Detector, score_of_z, z_of
from streams.indicators.catalog import INDICATORS
from streams.indicators.model import Indicator
from streams.indicators.query import MAX_POINTS, WINDOWS, Scope
from streams.models.video import CameraStatus
from streams.rules.durations import PositiveDuration, format_duration
from streams.rules.spike_baselines import DAY_S, MAX_SERIES_POINTS, Baseline, SeasonalBaseline, WindowBaseline
from streams.validation import REASONS

#: A problem found in a rule: (field path inside the rule, message).
Problem = tuple[str, str]

Op = Literal[">", ">=", "<", "<="]
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
WindowName = Literal["5m", "1h", "1d"]
GroupKey = Literal[
    "city", "county", "hall", "dept", "window", "staff", "device", "evaluator", "node", "camera", "source"
]
GROUP_KEYS: tuple[str, ...] = get_args(GroupKey)
#: Coarser org levels an indicator group key may carry along (a hall's county and city).
ANCESTORS: dict[str, tuple[str, ...]] = {
    "city": (),
    "county": ("city",),
    "hall": ("city", "county"),
    "dept": (),
    "source": ("city",),
}
#: Units of indicators that count things, and so can be a ratio's denominator.
NOT_COUNTS = frozenset({"ratio", "s"})
#: Values of the dimension a grouped indicator is split by (`Indicator.grouped_by`).
SERIES_VALUES: dict[str, tuple[str, ...]] = {
    "reason": REASONS,
    "status": tuple(s for s in get_args(CameraStatus) if s != "ok"),
}

#: Group keys from the finest to the coarsest: an indicator rule's finest key is what its query is grouped by.
_FINE_TO_COARSE = ("camera", "window", "hall", "node", "county", "dept", "source", "city")


def finest(group_by: Iterable[str]) -> str | None:
    """The group key an indicator query splits by; the rule's other keys ride along as the entity's ancestors."""
    keys = set(group_by)
    return next((k for k in _FINE_TO_COARSE if k in keys), None)


#: Fewest windows a window baseline's lookback may hold: a median and MAD of fewer say nothing.
MIN_WINDOW_POINTS = 3
#: Most windows a spike rule may read to rebuild an entity's baseline: ten queries of MAX_POINTS windows.
MAX_HISTORY_WINDOWS = 10 * MAX_POINTS

_MODEL = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _fmt(x: float) -> str:
    return f"{x:g}"


class IndicatorCondition(BaseModel):
    """An indicator read at one window size (the catalogue's 5m, 1h or 1d), per group of the rule."""

    model_config = _MODEL

    indicator: str
    window: WindowName
    #: Only for indicators with one series per reason/status (rejected_share, camera_faults): the series
    #: to watch; None watches each series on its own.
    series: tuple[str, ...] | None = None

    @property
    def window_s(self) -> int:
        return int(WINDOWS[self.window].total_seconds())

    def condition_problems(self, group_by: tuple[str, ...], scope: Scope) -> list[Problem]:
        ind = INDICATORS.get(self.indicator)
        if ind is None:
            return [("indicator", f"unknown indicator {self.indicator!r}; `govpulse indicators --markdown` lists them")]
        out: list[Problem] = []
        if self.window not in ind.windows:
            out.append(("window", f"{ind.name} has no {self.window} window; it has {', '.join(ind.windows)}"))
        if self.series is not None:
            out += _series_problems(ind, self.series)
        return out + group_problems(ind, group_by, scope)


def _series_problems(ind: Indicator, series: tuple[str, ...]) -> list[Problem]:
    if ind.grouped_by is None:
        return [
            ("series", f"{ind.name} has a single series; series only applies to an indicator split by reason or status")
        ]
    if not series:
        return [("series", "name at least one value, or leave series out to watch every one")]
    known = SERIES_VALUES.get(ind.grouped_by, ())
    unknown = [s for s in series if known and s not in known]
    if unknown:
        return [("series", f"unknown {ind.grouped_by} {', '.join(map(repr, unknown))}; use {', '.join(known)}")]
    return []


def group_problems(ind: Indicator, group_by: tuple[str, ...], scope: Scope, field: str = "group_by") -> list[Problem]:
    """Can `ind` be computed per these group keys, inside this scope?"""
    out: list[Problem] = []
    for key in group_by:
        if key not in ind.scopes:
            out.append((field, f"{ind.name} cannot be grouped by {key}: it exists per {', '.join(ind.scopes)}"))
    if out:
        return out
    finest = [k for k in group_by if not any(k in ANCESTORS.get(other, ()) for other in group_by)]
    if len(finest) > 1:
        why = f"{ind.name} is computed per one org level; group by one of {', '.join(finest)}"
        return [(field, why + " (a hall may carry its county and city along)")]
    if scope.kind not in ind.scopes:
        out.append(("scope", f"{ind.name} has no {scope.kind} scope; it exists per {', '.join(ind.scopes)}"))
    elif finest and scope.kind not in ("province", finest[0], *ANCESTORS.get(finest[0], ())):
        out.append(("scope", f"a {scope.kind} scope cannot be split into {finest[0]} groups"))
    return out


class Comparison(BaseModel):
    """`value op threshold` starts the alert; it stays firing while `value op clear` holds (hysteresis)."""

    model_config = _MODEL

    op: Op
    threshold: Number
    #: Defaults to threshold; must lie on the safe side of it (at or below for > and >=, at or above for < and <=).
    clear: Number | None = None

    @property
    def clear_at(self) -> float:
        return self.threshold if self.clear is None else self.clear

    def fires(self, value: float) -> bool:
        """The condition that starts (pending, then firing) an alert."""
        return OPS[self.op](value, self.threshold)

    def holds(self, value: float) -> bool:
        """While firing: still on the wrong side of `clear`; False resolves the alert."""
        return OPS[self.op](value, self.clear_at)

    def comparison_values(self) -> dict[str, float]:
        """Threshold and, when set, clear: what an alert message may quote of the comparison."""
        return {"threshold": self.threshold} | ({} if self.clear is None else {"clear": self.clear})

    def comparison_problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.clear is not None:
            if self.op in (">", ">=") and self.clear > self.threshold:
                out.append(
                    (
                        "clear",
                        f"must be below threshold {_fmt(self.threshold)} for op {self.op!r}, got {_fmt(self.clear)}",
                    )
                )
            if self.op in ("<", "<=") and self.clear < self.threshold:
                out.append(
                    (
                        "clear",
                        f"must be above threshold {_fmt(self.threshold)} for op {self.op!r}, got {_fmt(self.clear)}",
                    )
                )
        ind = INDICATORS.get(getattr(self, "indicator", ""))
        if ind is not None and ind.unit == "ratio":
            for field, value in (("threshold", self.threshold), ("clear", self.clear)):
                if value is not None and not 0 <= value <= 1:
                    out.append((field, f"{ind.name} is a fraction from 0 to 1 (write 0.05 for 5%), got {_fmt(value)}"))
        return out


class ThresholdCondition(IndicatorCondition, Comparison):
    """An indicator compared with a fixed threshold."""

    type: Literal["threshold"] = "threshold"

    def condition_problems(self, group_by: tuple[str, ...], scope: Scope) -> list[Problem]:
        return super().condition_problems(group_by, scope) + self.comparison_problems()


class RatioCondition(IndicatorCondition, Comparison):
    """A ratio indicator compared with a threshold, only where its denominator reaches `min_denominator`."""

    type: Literal["ratio"] = "ratio"
    #: A count indicator of the same group and window, e.g. evaluations for bad_review_rate.
    denominator: str
    #: Below this many (tickets, evaluations...) in the window the ratio is not evaluated: no fire, no resolve.
    min_denominator: int = Field(strict=True, ge=1)

    def condition_problems(self, group_by: tuple[str, ...], scope: Scope) -> list[Problem]:
        out = super().condition_problems(group_by, scope) + self.comparison_problems()
        ind = INDICATORS.get(self.indicator)
        if ind is not None and ind.unit != "ratio":
            out.append(("indicator", f"{ind.name} is measured in {ind.unit}, not a ratio; use a threshold rule"))
        den = INDICATORS.get(self.denominator)
        if den is None:
            return [*out, ("denominator", f"unknown indicator {self.denominator!r}; name a count such as evaluations")]
        if den.unit in NOT_COUNTS or den.grouped_by:
            why = f"{den.name} is not a count (unit {den.unit}); name one such as evaluations or tickets_issued"
            return [*out, ("denominator", why)]
        if self.window not in den.windows:
            out.append(("denominator", f"{den.name} has no {self.window} window"))
        return out + [("denominator", msg) for _, msg in group_problems(den, group_by, scope)]


class SpikeCondition(IndicatorCondition):
    """An indicator far from its own baseline, kept per entity by a detector (`streams.rules.spike_baselines`).

    It fires where the detector is armed (`min_history` points learned) and the
    window's score (0 to 1, `streams.detectors.score_of_z`) reaches `score`, or
    the score of `z` spreads, on a side `direction` watches; it clears below
    the score of half that many spreads. `min_value` is a floor on the value of
    an upward spike and a ceiling on that of a downward one. `factor` adds a
    second test for upward spikes only: the value must also be `factor` times
    the baseline. Every catalogue indicator can be 0, and any value is a
    multiple of 0, so a factor needs `min_value` beside it.
    """

    type: Literal["spike"] = "spike"
    baseline: Baseline
    #: The threshold in spreads (3 = the classic three sigma); it fires at score_of_z(z). Give z or score.
    z: float | None = Field(default=None, strict=True, gt=0, allow_inf_nan=False)
    #: The threshold as a score, 0 < score < 1 (0.5 is three spreads). Give z or score.
    score: float | None = Field(default=None, strict=True, gt=0, lt=1)
    #: Direction up only: the value must also be at least this multiple of the baseline.
    factor: float | None = Field(default=None, strict=True, gt=1, allow_inf_nan=False)
    #: up: value above the baseline; down: below; both: either.
    direction: Literal["up", "down", "both"] = "up"
    #: Points an entity's detector must have learned before it can fire (points, however long they took).
    min_history: int = Field(strict=True, ge=2)
    #: Up: the value must also reach this (a jump from 1 to 4 tickets is no news). Down: fall to it or below.
    min_value: float | None = Field(default=None, strict=True, allow_inf_nan=False)
    #: The smallest deviation that counts as one spread, in the indicator's unit (default: the detector's floors).
    min_spread: float | None = Field(default=None, strict=True, gt=0, allow_inf_nan=False)
    #: How far back the baseline is rebuilt from ClickHouse for an entity without state; default: enough to arm.
    history: PositiveDuration | None = None

    @property
    def threshold_score(self) -> float:
        """The score that fires."""
        return self.score if self.score is not None else score_of_z(self.z or HALF_SCORE_Z)

    @property
    def clear_score(self) -> float:
        """Below this score a firing alert clears: half the threshold's spreads (hysteresis)."""
        return score_of_z(z_of(self.threshold_score) / 2)

    @property
    def history_s(self) -> int:
        """The span read when an entity has no state."""
        if self.history is not None:
            return self.history
        return self.baseline.default_history_s(self.window_s, self.min_history)

    def detector(self) -> Detector:
        """A fresh detector for one entity."""
        floors = {} if self.min_spread is None else {"min_spread": self.min_spread}
        return self.baseline.detector(self.window_s, self.min_history, floors)

    def state_settings(self) -> dict[str, object]:
        """What an entity's learned state depends on; a reload that changes none of it keeps the state."""
        return {
            "indicator": self.indicator,
            "window": self.window,
            "series": list(self.series) if self.series is not None else None,
            "baseline": self.baseline.model_dump(mode="json"),
            "min_history": self.min_history,
            "min_spread": self.min_spread,
        }

    def condition_problems(self, group_by: tuple[str, ...], scope: Scope) -> list[Problem]:
        return super().condition_problems(group_by, scope) + self._threshold_problems() + self._baseline_problems()

    def _threshold_problems(self) -> list[Problem]:
        out: list[Problem] = []
        if self.z is not None and self.score is not None:
            out.append(("z", "give either z (spreads) or score (0 to 1), not both"))
        elif self.z is None and self.score is None:
            out.append(("z", "give z (spreads, 3 is the classic line) or score (0 to 1, 0.5 is three spreads)"))
        if self.factor is not None:
            if self.direction != "up":
                why = "only with direction up: a fraction of a baseline near 0 is 0, so any quiet window would pass"
                out.append(("factor", why))
            elif self.min_value is None or self.min_value <= 0:
                why = f"{self.indicator} can be 0, and any value is {_fmt(self.factor)} times 0; give a min_value"
                out.append(("factor", why + " above 0 too (the least value that is news), or leave factor out"))
        return out

    def _baseline_problems(self) -> list[Problem]:
        b, window_s = self.baseline, self.window_s
        out: list[Problem] = []
        if isinstance(b, WindowBaseline):
            if b.same_time_of_day and self.window == "1d":
                return [("baseline.same_time_of_day", "a 1d window has no time of day; use lookback alone")]
            if b.lookback <= window_s:
                return [("baseline.lookback", f"must be longer than the {self.window} window")]
            points = b.per_slot() if b.same_time_of_day else b.lookback // window_s
            if not b.same_time_of_day and points < MIN_WINDOW_POINTS:
                why = f"holds {points} windows of {self.window}; a window baseline needs at least {MIN_WINDOW_POINTS}"
                return [("baseline.lookback", why)]
            if self.min_history > points:
                out.append(
                    ("min_history", f"the baseline holds at most {points} points, fewer than {self.min_history}")
                )
        elif isinstance(b, SeasonalBaseline):
            if b.period == "day" and self.window == "1d":
                return [("baseline.period", "a 1d window has no time of day; use period week or another method")]
            if b.min_samples > b.per_slot:
                out.append(("baseline.min_samples", f"more than the per_slot {b.per_slot} values a slot keeps"))
            if b.slot is not None and (b.slot % window_s or DAY_S % b.slot):
                why = f"must be a whole number of {self.window} windows and divide a day evenly"
                out.append(("baseline.slot", why))
        kept = b.points_kept(window_s)
        if kept > MAX_SERIES_POINTS:
            out.append(("baseline", f"would keep {kept} values per entity, more than {MAX_SERIES_POINTS}"))
        if not out:
            try:
                self.detector()  # the detector's own checks, so no setting it refuses gets past `rules check`
            except ValueError as exc:
                out.append(("baseline", str(exc)))
        return out + self._history_problems()

    def _history_problems(self) -> list[Problem]:
        b, window_s, span = self.baseline, self.window_s, self.history_s
        field, windows = "history" if self.history is not None else "baseline", span // window_s
        if windows > MAX_HISTORY_WINDOWS:
            limit = format_duration(MAX_HISTORY_WINDOWS * window_s)
            return [
                (
                    field,
                    f"reads {windows} windows of {self.window} to rebuild, more than {MAX_HISTORY_WINDOWS} ({limit})",
                )
            ]
        if isinstance(b, SeasonalBaseline) or (isinstance(b, WindowBaseline) and b.same_time_of_day):
            weekly = isinstance(b, SeasonalBaseline) and b.period == "week"
            needed = b.min_samples if isinstance(b, SeasonalBaseline) else self.min_history
            # A working-day slot learns on working days only: five in seven for a daily profile, one a week for a
            # weekday's.
            held = span // (7 * DAY_S) if weekly else span // DAY_S * 5 // 7
            if held < needed:
                what = "min_samples" if isinstance(b, SeasonalBaseline) else "min_history"
                why = (
                    f"{format_duration(span)} holds {held} working-day values of each slot, fewer than {what} {needed}"
                )
                return [(field, why)]
        elif windows < self.min_history:
            why = f"{format_duration(span)} holds at most {windows} windows of {self.window}"
            return [(field, f"{why}, fewer than min_history {self.min_history}")]
        return []
