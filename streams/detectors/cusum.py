"""A two-sided CUSUM: a level shift of the series against a slow baseline, confirmed and then taken as the new normal.

Each point's residual against a slow EWMA baseline, in spreads of that
baseline (floored like every detector's spread), feeds two cumulative sums:
S+ = max(0, S+ + r - k) for a shift up and S- = max(0, S- - r - k) for a shift
down. A shift is confirmed when a sum reaches `h`. Small steady shifts that a
single point's z never shows add up here.

The score is how far the larger sum has run toward `h`, as a deviation
z = HALF_SCORE_Z · S / h through score_of_z: S = h scores 0.5 (as three
spreads do elsewhere), S = h/2 scores 0.2, S = 2h scores 0.8. Verdict.z is
therefore that scaled run, not a single point's deviation. The side is the
direction of the shift.

Once a shift is confirmed the baseline re-learns the new level: its spread
goes back to what it was before the run (the shifted points inflated it), its
mean is the plain average of the next REBASELINE_POINTS points (the run itself
may have begun with ordinary points before the shift, so its mean is only
shown meanwhile), and the following points keep averaging in plainly until the
EWMA's own rate takes over. While it re-learns, its verdicts are unarmed and
the sums stay at zero, as in the first `min_points`; then they restart from
zero, so the new normal does not keep firing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from streams.detectors.base import HALF_SCORE_Z, Side, Verdict, score_of_z
from streams.detectors.ewma import EwStats
from streams.detectors.params import check_count, check_floors, check_rate, check_snapshot
from streams.detectors.spread import (
    DEFAULT_MIN_SPREAD,
    DEFAULT_MIN_SPREAD_RATIO,
    Z_CAP,
    floored,
    unknown_value,
)

#: The points after a confirmed shift whose plain average becomes the new level before the sums run again.
REBASELINE_POINTS = 4


@dataclass(slots=True)
class Run:
    """One side's cumulative sum and what the points since it left zero say about the new level."""

    total: float = 0.0
    #: Points since the sum left zero, their sum and their sum of |x|.
    n: int = 0
    value_sum: float = 0.0
    abs_sum: float = 0.0
    #: The baseline's variance when the run began, before the shifted points inflated it.
    var0: float = 0.0

    def step(self, total: float, x: float, stats: EwStats) -> None:
        """Move to the sum `total` after point `x`; a sum back at zero forgets the run."""
        if total <= 0.0:
            self.total, self.n, self.value_sum, self.abs_sum = 0.0, 0, 0.0, 0.0
            return
        if self.n == 0:
            self.var0 = stats.var
        self.total = total
        self.n += 1
        self.value_sum += x
        self.abs_sum += abs(x)

    def state(self) -> list[float]:
        return [self.total, self.n, self.value_sum, self.abs_sum, self.var0]

    @classmethod
    def of_state(cls, state: list[Any]) -> Run:
        total, n, value_sum, abs_sum, var0 = state
        return cls(float(total), int(n), float(value_sum), float(abs_sum), float(var0))


class CusumDetector:
    """Level shifts: a two-sided CUSUM of residuals against a slow EWMA baseline, re-baselined after each shift."""

    kind: ClassVar[str] = "cusum"

    def __init__(
        self,
        *,
        k: float = 0.5,
        h: float = 8.0,
        alpha: float = 0.02,
        min_points: int = 30,
        min_spread_ratio: float = DEFAULT_MIN_SPREAD_RATIO,
        min_spread: float = DEFAULT_MIN_SPREAD,
    ) -> None:
        if not (math.isfinite(k) and k >= 0.0):
            raise ValueError(f"k must be a finite number of spreads >= 0, got {k!r}")
        if not (math.isfinite(h) and h > 0.0):
            raise ValueError(f"h must be a finite number of spreads > 0, got {h!r}")
        check_rate("alpha", alpha)
        check_count("min_points", min_points, 1)
        check_floors(min_spread_ratio, min_spread)
        self.k = float(k)
        self.h = float(h)
        self.alpha = float(alpha)
        self.min_points = min_points
        self.min_spread_ratio = float(min_spread_ratio)
        self.min_spread = float(min_spread)
        self._stats = EwStats(self.alpha)
        self._up = Run()
        self._down = Run()
        self._points = 0
        #: Points averaged into the new level since a confirmed shift, or None when the sums are running.
        self._relearned: int | None = None

    @property
    def points(self) -> int:
        return self._points

    def params(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "h": self.h,
            "alpha": self.alpha,
            "min_points": self.min_points,
            "min_spread_ratio": self.min_spread_ratio,
            "min_spread": self.min_spread,
        }

    def _spread(self) -> float:
        stats = self._stats
        return floored(math.sqrt(stats.var), stats.scale, self.min_spread_ratio, self.min_spread)

    def _sums(self, value: float, spread: float) -> tuple[float, float]:
        """S+ and S- once `value` is added."""
        r = max(-Z_CAP, min(Z_CAP, (value - self._stats.mean) / spread))
        return max(0.0, self._up.total + r - self.k), max(0.0, self._down.total - r - self.k)

    def judge(self, at: datetime, value: float) -> Verdict:
        spread = self._spread()
        if not math.isfinite(value):
            return unknown_value(self._stats.mean, spread)
        up, down = self._sums(value, spread)
        run = max(up, down)
        side: Side = "none" if run == 0.0 else "up" if up >= down else "down"
        z = min(HALF_SCORE_Z * run / self.h, Z_CAP)
        armed = self._points >= self.min_points and self._relearned is None
        return Verdict(score_of_z(z), side, self._stats.mean, spread, armed)

    def learn(self, at: datetime, value: float) -> None:
        """Take a point in; the sums run only once armed; a non-finite value is skipped."""
        if not math.isfinite(value):
            return
        self._points += 1
        if self._points <= self.min_points:
            self._stats.update(value)
            return
        if self._relearned is not None:
            self._relearn(value)
            return
        up, down = self._sums(value, self._spread())
        self._up.step(up, value, self._stats)
        self._down.step(down, value, self._stats)
        if max(up, down) >= self.h:
            self._rebaseline(self._up if up >= down else self._down)
        else:
            self._stats.update(value)

    def _rebaseline(self, run: Run) -> None:
        """Show the run's mean as the level, take back the spread from before it, and start re-learning."""
        stats = self._stats
        stats.mean = run.value_sum / run.n
        stats.scale = run.abs_sum / run.n
        stats.var = run.var0
        self._up, self._down = Run(), Run()
        self._relearned = 0

    def _relearn(self, value: float) -> None:
        """Average one more point into the new level (the spread stays); after enough, the sums run again."""
        stats = self._stats
        n = (self._relearned or 0) + 1
        stats.mean += (value - stats.mean) / n
        stats.scale += (abs(value) - stats.scale) / n
        self._relearned = n
        if n >= REBASELINE_POINTS:
            stats.n = n
            self._relearned = None

    def observe(self, at: datetime, value: float) -> Verdict:
        verdict = self.judge(at, value)
        self.learn(at, value)
        return verdict

    def snapshot(self) -> dict[str, Any]:
        state = {
            "points": self._points,
            **self._stats.state(),
            "up": self._up.state(),
            "down": self._down.state(),
            "relearned": self._relearned,
        }
        return {"kind": self.kind, "params": self.params(), "state": state}

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> CusumDetector:
        params, state = check_snapshot(snapshot, cls.kind)
        detector = cls(**params)
        detector._stats = EwStats.of_state(detector.alpha, state)
        detector._up, detector._down = Run.of_state(state["up"]), Run.of_state(state["down"])
        detector._points = int(state["points"])
        detector._relearned = None if state["relearned"] is None else int(state["relearned"])
        return detector
