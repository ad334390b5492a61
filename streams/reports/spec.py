"""What a report holds: its indicators, how each sums up a period, and which scorecards rank each level.

Read from alert_rules/reports/*.yaml, so the province changes its list of monitored indicators (they change every
year) without code. Built-in, formula and manual indicators are all named the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from streams.indicators.model import Indicator

#: How one indicator's daily values make the period's figure: the total (counts), the mean of the days that have a
#: value (日均: ratios, times, scores; the scorecards use the same), or the last day's (snapshots such as open cases).
Aggregate = Literal["sum", "mean", "last"]
#: How the figure is shown: a whole number, a decimal, or a percentage of a 0–1 ratio.
Display = Literal["int", "decimal", "percent"]
AGGREGATE_ZH: dict[str, str] = {"sum": "合计", "mean": "日均", "last": "期末"}


class ReportSpecError(ValueError):
    """A report file that cannot be used; the message names the file and the entry."""


class ReportIndicator(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    indicator: str = Field(min_length=1, max_length=64)
    aggregate: Aggregate
    display: Display = "decimal"


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,40}$")
    title: str = Field(min_length=1, max_length=100)
    indicators: tuple[ReportIndicator, ...] = Field(min_length=1, max_length=60)
    #: The scorecard that ranks cities, and the one that ranks departments (alert_rules/scorecards/).
    city_scorecard: str
    dept_scorecard: str
    #: Alerts listed in the top-alerts table.
    top_alerts: int = Field(default=20, ge=1, le=200)


def parse_spec(data: object, source: str, catalog: Mapping[str, Indicator]) -> ReportSpec:
    """The spec in `data`, checked against the indicators the catalog has now; raises naming `source`."""
    try:
        spec = ReportSpec.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "file"
        raise ReportSpecError(f"{source}: {where}: {first['msg']}") from None
    for entry in spec.indicators:
        indicator = catalog.get(entry.indicator)
        if indicator is None:
            raise ReportSpecError(f"{source}: {entry.indicator}: no such indicator")
        if "1d" not in indicator.windows:
            raise ReportSpecError(f"{source}: {entry.indicator}: has no 1d window, so no period figure")
        if indicator.grouped_by:
            raise ReportSpecError(f"{source}: {entry.indicator}: gives one series per {indicator.grouped_by}")
    names = [e.indicator for e in spec.indicators]
    if len(set(names)) != len(names):
        raise ReportSpecError(f"{source}: an indicator is listed twice")
    return spec


def load_spec(path: Path, catalog: Mapping[str, Indicator]) -> ReportSpec:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ReportSpecError(f"{path}: {exc}") from None
    return parse_spec(data, str(path), catalog)
