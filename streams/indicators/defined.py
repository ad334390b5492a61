"""The model of one ops-defined indicator, as written in `alert_rules/indicators/*.yaml`.

Two kinds share the format: `formula` (an arithmetic expression over other
indicators, computed in ClickHouse from its operands' SQL) and `manual`
(values uploaded by hand for a period: a month, quarter, half-year or year).
Fields that belong to the other kind are refused, so a typo'd entry is
reported instead of silently meaning something else.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, model_validator

from streams.indicators.query import ScopeKind

Kind = Literal["formula", "manual"]
Direction = Literal["higher_better", "lower_better"]
WindowName = Literal["5m", "1h", "1d"]
Period = Literal["month", "quarter", "half", "year"]
EmptyDenominator = Literal["zero"]
#: Every unit a catalogue indicator uses, and `points` for scores uploaded by hand.
UNITS = ("ratio", "s", "tickets", "evaluations", "events", "cases", "windows", "probes", "points")
Unit = Literal["ratio", "s", "tickets", "evaluations", "events", "cases", "windows", "probes", "points"]
NAME_PATTERN = r"^[a-z][a-z0-9_]{2,63}$"

_FORMULA_ONLY = ("expression", "windows", "empty_denominator")
_MANUAL_ONLY = ("period", "min", "max")


class DefinedIndicator(BaseModel):
    """One entry of an indicator file's `indicators:` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    kind: Kind
    title_zh: StrictStr = Field(min_length=1, max_length=64)
    unit: Unit
    direction: Direction
    scopes: tuple[ScopeKind, ...] = Field(min_length=1)
    definition: StrictStr = Field(min_length=1, max_length=1000)
    # formula
    expression: StrictStr | None = Field(default=None, min_length=1, max_length=1000)
    windows: tuple[WindowName, ...] | None = None
    #: What a division by 0 gives: None (NULL, no value) or `zero`.
    empty_denominator: EmptyDenominator | None = None
    # manual
    period: Period | None = None
    min: StrictInt | StrictFloat | None = None
    max: StrictInt | StrictFloat | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> DefinedIndicator:
        other = _MANUAL_ONLY if self.kind == "formula" else _FORMULA_ONLY
        stray = [f for f in other if f in self.model_fields_set]
        if stray:
            raise ValueError(f"{', '.join(stray)}: not a field of a {self.kind} indicator")
        required = ("expression", "windows") if self.kind == "formula" else ("period",)
        missing = [f for f in required if getattr(self, f) is None]
        if missing:
            raise ValueError(f"{', '.join(missing)}: required for a {self.kind} indicator")
        if len(set(self.scopes)) != len(self.scopes) or (self.windows and len(set(self.windows)) != len(self.windows)):
            raise ValueError("scopes and windows list each value once")
        if self.min is not None and self.max is not None and not self.min < self.max:
            raise ValueError(f"min must be below max, got min {self.min:g}, max {self.max:g}")
        return self


class IndicatorFile(BaseModel):
    """One `alert_rules/indicators/*.yaml` file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    indicators: list[DefinedIndicator] = Field(default_factory=list)
