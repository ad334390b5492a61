"""The baselines a spike rule may keep, as written in YAML, and the detector (`streams.detectors`) each one makes.

Every baseline is learned point by point, one point per window of the
indicator, and kept between rounds; what a baseline holds is counted in
points, not in elapsed time, so a gappy series arms after as many points as
a dense one. The old keys keep their meaning: `{method: ewma, alpha}` is the
EWMA detector, `{method: window, lookback}` the robust window detector over
lookback / window points, and `same_time_of_day: true` the seasonal detector
with a period of a day. `seasonal` and `cusum` are new.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from streams.detectors import CusumDetector, Detector, EwmaDetector, RobustWindowDetector, SeasonalDetector
from streams.rules.durations import PositiveDuration

_MODEL = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
DAY_S = 86_400
PERIODS_S: dict[str, int] = {"day": DAY_S, "week": 7 * DAY_S}
#: Profiles a seasonal detector keeps per period: working days and rest days; or each weekday's working days
#: (a working Saturday or Sunday has its own) and rest days.
PROFILES: dict[str, int] = {"day": 2, "week": 8}
#: Most values one entity's baseline may hold (a window's lookback in points, a seasonal detector's profiles × slots
#: × per_slot): 18,432 is a week's eight profiles of 5-minute slots, 8 values each. `rules check` refuses more.
MAX_SERIES_POINTS = 18_432
#: What an EWMA or CUSUM keeps per entity, counted in points for the state bound (a handful of numbers).
RUNNING_STATS_POINTS = 8


class _Baseline(BaseModel):
    model_config = _MODEL

    def detector(self, window_s: int, min_points: int, floors: dict[str, float]) -> Detector:
        """A fresh detector of this baseline, for windows of `window_s`, armed after `min_points` points."""
        raise NotImplementedError

    def points_kept(self, window_s: int) -> int:
        """How many values one entity's detector holds at most."""
        return RUNNING_STATS_POINTS

    def default_history_s(self, window_s: int, min_points: int) -> int:
        """The span read from ClickHouse when an entity has no state, if the rule gives no `history`."""
        return window_s * min_points


def working_days_span_s(days: int) -> int:
    """A span of calendar days holding `days` working days in an ordinary week (five in seven), and one to spare."""
    return (math.ceil(days * 7 / 5) + 1) * DAY_S


def _smoothed_history_s(window_s: int, min_points: int, alpha: float) -> int:
    """Enough windows to arm, and three memories of an EWMA of rate alpha (what is older weighs e^-3, about 5%)."""
    return window_s * max(min_points, math.ceil(3 / alpha))


class EwmaBaseline(_Baseline):
    """An exponentially weighted mean and variance of every window learned, updated once per window."""

    method: Literal["ewma"]
    #: Weight of the newest window, 0 < alpha < 1; small alpha = long memory (about 2 / alpha windows).
    alpha: float = Field(strict=True, gt=0, lt=1)

    def detector(self, window_s: int, min_points: int, floors: dict[str, float]) -> Detector:
        return EwmaDetector(alpha=self.alpha, min_points=min_points, **floors)

    def default_history_s(self, window_s: int, min_points: int) -> int:
        return _smoothed_history_s(window_s, min_points, self.alpha)


class WindowBaseline(_Baseline):
    """The median and robust spread of the last `lookback` of windows; with `same_time_of_day`, of the same time
    of day on earlier days only (the seasonal detector, period day, one value a day per slot)."""

    method: Literal["window"]
    lookback: PositiveDuration
    #: Compare only with values at this time of day on earlier days (one point per day).
    same_time_of_day: bool = Field(default=False, strict=True)

    def points_kept(self, window_s: int) -> int:
        if self.same_time_of_day:
            return PROFILES["day"] * (DAY_S // window_s) * self.per_slot()
        return self.lookback // window_s

    def per_slot(self) -> int:
        """With same_time_of_day: values kept per time of day, one per day of the lookback."""
        return self.lookback // DAY_S

    def detector(self, window_s: int, min_points: int, floors: dict[str, float]) -> Detector:
        if self.same_time_of_day:
            # min_history counted same-time-of-day values before: it is each slot's min_samples here.
            return SeasonalDetector(
                period="day", slot_s=window_s, per_slot=self.per_slot(), min_samples=min_points, **floors
            )
        return RobustWindowDetector(window=self.lookback // window_s, min_points=min_points, **floors)

    def default_history_s(self, window_s: int, min_points: int) -> int:
        if self.same_time_of_day:
            return working_days_span_s(max(self.per_slot(), min_points))
        return self.lookback


class SeasonalBaseline(_Baseline):
    """The robust centre and spread of the same slot (time of day, or of the week) over the last periods."""

    method: Literal["seasonal"]
    period: Literal["day", "week"]
    #: Periods a slot keeps: the same slot on the last `per_slot` days (or weeks).
    per_slot: int = Field(default=8, strict=True, ge=2)
    #: Periods a slot needs before a point in it is judged against them.
    min_samples: int = Field(default=4, strict=True, ge=2)
    #: The span of the day one slot covers (default: one window). A longer slot pools the windows inside it
    #: (a 30m slot of 5m windows holds six values a day), so its median and spread rest on more values: four
    #: days of one 5-minute window give a MAD that a count's ordinary noise crosses several times an hour.
    slot: PositiveDuration | None = None

    @property
    def period_s(self) -> int:
        return PERIODS_S[self.period]

    def slot_s(self, window_s: int) -> int:
        return self.slot if self.slot is not None else window_s

    def windows_per_slot(self, window_s: int) -> int:
        return max(1, self.slot_s(window_s) // window_s)

    def points_kept(self, window_s: int) -> int:
        return PROFILES[self.period] * (DAY_S // window_s) * self.per_slot

    def detector(self, window_s: int, min_points: int, floors: dict[str, float]) -> Detector:
        pooled = self.windows_per_slot(window_s)
        return SeasonalDetector(
            period=self.period,
            slot_s=self.slot_s(window_s),
            per_slot=self.per_slot * pooled,
            min_samples=self.min_samples * pooled,
            **floors,
        )

    def default_history_s(self, window_s: int, min_points: int) -> int:
        wanted = max(self.per_slot, self.min_samples)
        # One working Monday a week: a week more makes up for a public holiday.
        return working_days_span_s(wanted) if self.period == "day" else (wanted + 1) * self.period_s


class CusumBaseline(_Baseline):
    """A two-sided CUSUM around an EWMA reference: small shifts that persist add up until they cross `h`."""

    method: Literal["cusum"]
    #: Slack per window, in spreads: deviations smaller than this do not accumulate.
    k: float = Field(default=0.5, strict=True, ge=0, allow_inf_nan=False)
    #: Decision interval, in spreads: the cumulative sum that confirms a shift (it scores 0.5).
    h: float = Field(default=8.0, strict=True, gt=0, allow_inf_nan=False)
    #: Weight of the newest window in the reference level and spread, 0 < alpha < 1.
    alpha: float = Field(default=0.02, strict=True, gt=0, lt=1)

    def detector(self, window_s: int, min_points: int, floors: dict[str, float]) -> Detector:
        return CusumDetector(k=self.k, h=self.h, alpha=self.alpha, min_points=min_points, **floors)

    def default_history_s(self, window_s: int, min_points: int) -> int:
        return _smoothed_history_s(window_s, min_points, self.alpha)


Baseline = Annotated[EwmaBaseline | WindowBaseline | SeasonalBaseline | CusumBaseline, Field(discriminator="method")]
