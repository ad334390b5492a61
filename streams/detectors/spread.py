"""What the detectors share: the spread floor, a robust centre and spread, and the verdict of a deviation.

Every detector measures a point in spreads of its baseline. A spread learned
from a flat or nearly flat series is close to zero, and dividing by it turns
any wobble into an enormous deviation; so each spread has a floor of its own
series' scale (a fraction of the typical magnitude |x|, which does not divide
by the mean and so works for a series around zero or below it) and an
absolute floor in the indicator's unit.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from streams.detectors.base import Side, Verdict, score_of_z

#: A deviation is capped at this many spreads, so the score stays below 1 (z 1e6 scores 1 - 9e-12).
Z_CAP = 1e6

#: 1.4826 × MAD estimates the standard deviation of normal data.
MAD_TO_STD = 1.4826

#: The default floor of a spread as a fraction of the series' typical magnitude.
DEFAULT_MIN_SPREAD_RATIO = 0.05
#: The default absolute floor, in the indicator's unit; a rule that knows its unit sets a meaningful one.
DEFAULT_MIN_SPREAD = 1e-6

FloatArray = npt.NDArray[np.float64]


def floored(spread: float, scale: float, min_spread_ratio: float, min_spread: float) -> float:
    """`spread`, but never below `min_spread_ratio` × `scale` (the series' typical |x|) nor below `min_spread`."""
    return max(spread, min_spread_ratio * scale, min_spread)


def verdict_of(value: float, baseline: float, spread: float, armed: bool) -> Verdict:
    """The verdict of `value` lying (value - baseline) / spread spreads from `baseline`."""
    deviation = value - baseline
    z = min(abs(deviation) / spread, Z_CAP)
    side: Side = "up" if deviation > 0 else "down" if deviation < 0 else "none"
    return Verdict(score_of_z(z), side, baseline, spread, armed)


def robust_stats(values: FloatArray) -> tuple[float, float, float]:
    """The median, the spread (1.4826 × MAD) and the scale (median |x|) of a non-empty array.

    When more than half of the values are equal the MAD is 0 however much the
    rest vary (a count that is mostly 0 with a few 1s), so the spread falls back
    to the root-mean-square deviation from the median: the standard deviation
    about it, which sees the rest. (The mean absolute deviation, the usual
    fallback, rates a 1 that comes every fourth point at over three spreads.)
    """
    median = float(np.median(values))
    deviations = values - median
    spread = MAD_TO_STD * float(np.median(np.abs(deviations)))
    if spread == 0.0:
        spread = math.sqrt(float(np.mean(deviations * deviations)))
    return median, spread, float(np.median(np.abs(values)))


def unknown_value(baseline: float, spread: float) -> Verdict:
    """The verdict of a value that is not a finite number: it is not scored and never fires."""
    return Verdict(0.0, "none", baseline, spread, False)
