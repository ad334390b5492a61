"""The median and MAD of the last points learned: a baseline one outlier cannot drag.

The window counts points, not elapsed time, so a series with gaps keeps as
much baseline as one without and arms after the same number of points. The
values live in a fixed ring buffer; the median and MAD are computed once per
learned point, when first asked for, in O(window).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, ClassVar

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


class RobustWindowDetector:
    """A point against the median of the last `window` points, in spreads of 1.4826 × their MAD (floored)."""

    kind: ClassVar[str] = "robust"

    def __init__(
        self,
        *,
        window: int = 288,
        min_points: int = 30,
        min_spread_ratio: float = DEFAULT_MIN_SPREAD_RATIO,
        min_spread: float = DEFAULT_MIN_SPREAD,
    ) -> None:
        check_count("window", window, 3)
        check_count("min_points", min_points, 1)
        if min_points > window:
            raise ValueError(f"min_points ({min_points}) cannot exceed window ({window}): the detector would never arm")
        check_floors(min_spread_ratio, min_spread)
        self.window = window
        self.min_points = min_points
        self.min_spread_ratio = float(min_spread_ratio)
        self.min_spread = float(min_spread)
        self._values = np.zeros(window, dtype=np.float64)
        self._filled = 0
        self._next = 0
        self._points = 0
        #: (median, floored spread) of the values as they are; None after a learn.
        self._baseline: tuple[float, float] | None = None

    @property
    def points(self) -> int:
        return self._points

    def params(self) -> dict[str, Any]:
        return {
            "window": self.window,
            "min_points": self.min_points,
            "min_spread_ratio": self.min_spread_ratio,
            "min_spread": self.min_spread,
        }

    def _median_and_spread(self) -> tuple[float, float]:
        if self._baseline is None:
            if self._filled == 0:
                self._baseline = (0.0, self.min_spread)
            else:
                median, spread, scale = robust_stats(self._values[: self._filled])
                self._baseline = (median, floored(spread, scale, self.min_spread_ratio, self.min_spread))
        return self._baseline

    def judge(self, at: datetime, value: float) -> Verdict:
        median, spread = self._median_and_spread()
        if not math.isfinite(value):
            return unknown_value(median, spread)
        return verdict_of(value, median, spread, self._points >= self.min_points)

    def learn(self, at: datetime, value: float) -> None:
        """Take a point in, dropping the oldest once the window is full; a non-finite value is skipped."""
        if not math.isfinite(value):
            return
        self._values[self._next] = value
        self._next = (self._next + 1) % self.window
        self._filled = min(self._filled + 1, self.window)
        self._points += 1
        self._baseline = None

    def observe(self, at: datetime, value: float) -> Verdict:
        verdict = self.judge(at, value)
        self.learn(at, value)
        return verdict

    def snapshot(self) -> dict[str, Any]:
        # The buffer is saved in its own order, so the restored statistics are computed over the same array.
        return {
            "kind": self.kind,
            "params": self.params(),
            "state": {"points": self._points, "next": self._next, "values": self._values[: self._filled].tolist()},
        }

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> RobustWindowDetector:
        params, state = check_snapshot(snapshot, cls.kind)
        detector = cls(**params)
        values = [float(v) for v in state["values"]]
        if len(values) > detector.window:
            raise ValueError(f"snapshot holds {len(values)} values, more than window {detector.window}")
        detector._values[: len(values)] = values
        detector._filled = len(values)
        detector._next = int(state["next"]) % detector.window
        detector._points = int(state["points"])
        return detector
