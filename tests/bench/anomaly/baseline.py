"""The reference row: NAB's windowed-Gaussian detector (nab/detectors/gaussian/windowedGaussian_detector.py).

The mean and standard deviation (population, floored at 1e-6) of the last
`window` points, refreshed once the window is full every `step` points; a
point's score is 1 − Q(|z|), the Gaussian tail beyond it (0.5 on the mean,
→ 1 far out); the first point scores 0. NAB's defaults: a window of 6,400
points, a step of 100, and the threshold NAB's optimiser chose for it under
the standard profile (config/thresholds.json): 1.0, so it fires only where
1 − Q(|z|) rounds to 1 in double precision, beyond about 8.3 spreads.

NAB counts every row at or above the threshold as a detection. Here a firing
is where the score reaches the threshold after a row below it, where an
alert would start, so the row counts the same thing as the rule rows do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


def gaussian_tail(value: float, mean: float, std: float) -> float:
    """Q(|z|): the probability of a normal draw at least as far from the mean as `value`."""
    z = abs(value - mean) / std
    return 0.5 * math.erfc(z / math.sqrt(2.0))


@dataclass(frozen=True)
class WindowedGaussian:
    window: int = 6400
    step: int = 100
    threshold: float = 1.0

    @property
    def label(self) -> str:
        return f"windowed-gaussian (W {self.window}, step {self.step}, threshold {self.threshold:g})"

    def scores(self, values: Iterable[float]) -> list[float]:
        """NAB's anomaly score of each point against the window before it."""
        data: list[float] = []
        pending: list[float] = []
        mean, m2, std = 0.0, 0.0, 1.0
        out = []
        for x in values:
            out.append(1.0 - gaussian_tail(x, mean, std) if data else 0.0)
            if len(data) < self.window:
                # Filling: Welford's update gives what NAB's numpy mean and std over the window give.
                data.append(x)
                diff = x - mean
                mean += diff / len(data)
                m2 += diff * (x - mean)
                std = math.sqrt(max(m2, 0.0) / len(data)) or 1e-6
                continue
            pending.append(x)
            if len(pending) == self.step:
                data = data[self.step :] + pending
                pending = []
                mean = math.fsum(data) / len(data)
                std = math.sqrt(math.fsum((v - mean) ** 2 for v in data) / len(data)) or 1e-6
        return out

    def firings(self, points: list[tuple[datetime, float]]) -> list[datetime]:
        """Where the score reaches the threshold after a point below it."""
        out, above = [], False
        for (at, _), score in zip(points, self.scores(v for _, v in points), strict=True):
            now = score >= self.threshold
            if now and not above:
                out.append(at)
            above = now
        return out
