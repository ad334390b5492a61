"""What an indicator is: a name, a written definition and the SQL that computes it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from streams.indicators.defined import DefinedIndicator
from streams.indicators.query import IndicatorQuery

ALL_WINDOWS = ("5m", "1h", "1d")
#: What the indicator list shows of a defined indicator beyond what every indicator has.
_DEFINED_FIELDS = {"direction", "expression", "empty_denominator", "period", "min", "max"}
QUEUE_SCOPES = ("province", "city", "county", "hall", "dept", "line")


@dataclass(frozen=True, slots=True)
class Indicator:
    name: str
    family: str
    title_zh: str
    unit: str
    definition: str
    scopes: tuple[str, ...]
    windows: tuple[str, ...]
    sql: Callable[[IndicatorQuery], str]
    grouped_by: str | None = None
    #: Entity kinds a query may group by; by default the indicator's scopes other than the province.
    groups: tuple[str, ...] = ()
    #: The YAML entry of an indicator ops defined (alert_rules/indicators/); None for the built-in ones.
    defined: DefinedIndicator | None = None

    @property
    def group_kinds(self) -> tuple[str, ...]:
        # A line is a set of departments, not a column of the rows, so nothing groups by it.
        return self.groups or tuple(s for s in self.scopes if s not in ("province", "line"))

    def describe(self) -> dict[str, object]:
        return {
            "name": self.name,
            "family": self.family,
            "title_zh": self.title_zh,
            "unit": self.unit,
            "definition": self.definition,
            "scopes": list(self.scopes),
            "windows": list(self.windows),
            "grouped_by": self.grouped_by,
            "group_by": list(self.group_kinds),
            "kind": self.defined.kind if self.defined else "built_in",
            **(self.defined.model_dump(include=_DEFINED_FIELDS, exclude_none=True) if self.defined else {}),
        }
