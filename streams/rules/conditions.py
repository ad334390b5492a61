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

from streams.indicators.catalog import INDICATORS
from streams.indicators.model import Indicator
from streams.indicators.query import WINDOWS, Scope
from streams.models.video import CameraStatus
from streams.rules.durations import PositiveDuration
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


class WindowBaseline(BaseModel):
    """The mean and spread of the indicator's own values over `lookback` before now."""

    model_config = _MODEL

    method: Literal["window"]
    lookback: PositiveDuration
    #: Compare only with values at this time of day on earlier days (one point per day).
    same_time_of_day: bool = Field(default=False, strict=True)


class EwmaBaseline(BaseModel):
    """An exponentially weighted moving mean and variance of the values seen at each evaluation."""

    model_config = _MODEL

    method: Literal["ewma"]
    #: Weight of the newest value, 0 < alpha < 1; small alpha = long memory.
    alpha: float = Field(strict=True, gt=0, lt=1)


Baseline = Annotated[WindowBaseline | EwmaBaseline, Field(discriminator="method")]


class SpikeCondition(IndicatorCondition):
    """An indicator far from its own baseline: by `z` standard deviations or by a `factor` of its mean."""

    type: Literal["spike"] = "spike"
    baseline: Baseline
    z: float | None = Field(default=None, strict=True, gt=0)
    factor: float | None = Field(default=None, strict=True, gt=1)
    #: up: value above the baseline; down: below (mean / factor, mean - z·sd); both: either.
    direction: Literal["up", "down", "both"] = "up"
    #: Baseline points needed before the condition is armed; until then it never fires.
    min_history: int = Field(strict=True, ge=2)
    #: For direction up, the value must also reach this (a jump from 1 to 4 tickets is no news).
    min_value: float | None = Field(default=None, strict=True)

    def condition_problems(self, group_by: tuple[str, ...], scope: Scope) -> list[Problem]:
        out = super().condition_problems(group_by, scope)
        if (self.z is None) == (self.factor is None):
            out.append(("z", "give either z (standard deviations) or factor (times the baseline mean), not both"))
        b = self.baseline
        if isinstance(b, WindowBaseline):
            points = b.lookback // 86_400 if b.same_time_of_day else b.lookback // self.window_s
            if b.same_time_of_day and self.window == "1d":
                out.append(("baseline.same_time_of_day", "a 1d window has no time of day; use lookback alone"))
            elif b.lookback <= self.window_s:
                out.append(("baseline.lookback", f"must be longer than the {self.window} window"))
            elif self.min_history > points:
                out.append(
                    ("min_history", f"the baseline holds at most {points} points, fewer than {self.min_history}")
                )
        return out
