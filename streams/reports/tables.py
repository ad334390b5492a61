"""A report as data: tables of typed columns and bar charts, which the XLSX and PDF writers lay out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from streams.periods import Period

#: How a column's cells are shown: text, a whole number, a decimal, a percentage of a 0–1 ratio, or a relative
#: change (a percentage of the previous figure, signed).
ColumnKind = Literal["text", "int", "decimal", "percent", "change"]
Level = Literal["province", "city", "dept"]
LEVELS: tuple[Level, ...] = ("province", "city", "dept")
LEVEL_ZH: dict[str, str] = {"province": "全省", "city": "市级", "dept": "部门"}
#: Excel refuses sheet names over 31 characters.
SHEET_NAME_MAX = 31


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    kind: ColumnKind = "text"


@dataclass(slots=True)
class Table:
    sheet: str
    title: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    #: How to read the table (aggregation, what "line" means, where figures are missing), printed under it.
    note: str = ""
    #: Per row, the kind of each cell where the rows of one column differ (an indicator table mixes counts and
    #: percentages); None: every cell takes its column's kind.
    cell_kinds: list[list[ColumnKind]] | None = None

    def kind(self, row: int, column: int) -> ColumnKind:
        if self.cell_kinds is not None:
            return self.cell_kinds[row][column]
        return self.columns[column].kind

    def __post_init__(self) -> None:
        if len(self.sheet) > SHEET_NAME_MAX:
            raise ValueError(f"sheet name {self.sheet!r} is longer than {SHEET_NAME_MAX} characters")


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    labels: list[str]
    values: list[float | None]
    kind: ColumnKind = "decimal"


@dataclass(slots=True)
class Report:
    title: str
    period: Period
    previous: Period
    level: Level
    city: int | None
    city_name: str
    generated_at: datetime
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)

    @property
    def heading(self) -> str:
        where = self.city_name if self.city is not None else "全省"
        audience = where if self.level != "dept" else f"{where}·{LEVEL_ZH['dept']}"
        return f"{self.title}（{audience}）{self.period.label}"

    def filename(self, fmt: str) -> str:
        city = f"-{self.city}" if self.city is not None else ""
        return f"report-{self.period.label}-{self.level}{city}.{fmt}"


def change(current: float | None, previous: float | None) -> float | None:
    """The relative change from the previous period's figure, None when either is missing or the previous is 0."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)
