"""What an upload of manual indicator values is made of: its limits, the values it holds and the rows it refuses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from streams.periods import Period

#: Why a row is refused; each comes with a sentence naming the cell and what would be accepted.
RowReason = Literal[
    "missing_field",
    "cell_too_long",
    "unknown_indicator",
    "not_manual",
    "bad_entity_kind",
    "entity_kind_not_in_scopes",
    "unknown_entity",
    "other_city",
    "bad_period",
    "period_mismatch",
    "future_period",
    "not_a_number",
    "out_of_range",
    "duplicate",
]
#: Why a whole file is refused before any row is read.
FileReason = Literal[
    "empty",
    "too_large",
    "too_many_rows",
    "too_many_columns",
    "unknown_format",
    "bad_encoding",
    "unreadable",
    "missing_columns",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on every upload, so a wrong or hostile file costs little to refuse."""

    max_bytes: int = 5 * 1024 * 1024
    #: Data rows after the header.
    max_rows: int = 20_000
    max_columns: int = 20
    max_cell_chars: int = 200
    #: An XLSX is a zip: what its members may unpack to, so a small file cannot expand into gigabytes.
    max_unzipped_bytes: int = 64 * 1024 * 1024


DEFAULT_LIMITS = Limits()


class FileRefused(ValueError):
    """The file as a whole cannot be read; nothing of it is stored."""

    def __init__(self, reason: FileReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class Cells:
    """One data row as read: its line (the spreadsheet row number, the header being line 1) and cells by column."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True, slots=True)
class Table:
    """A file's rows under its recognised columns, and what was learnt reading it."""

    format: Literal["csv", "xlsx"]
    #: The text encoding of a CSV (utf-8, utf-8-sig, gb18030, utf-16); empty for an XLSX.
    encoding: str
    rows: list[Cells]
    #: Header cells that name no known column; their cells are not read.
    ignored_columns: list[str]


@dataclass(frozen=True, slots=True)
class Refusal:
    line: int
    reason: RowReason
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"line": self.line, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ManualValue:
    """One accepted value: an indicator's value for one city or department over one period."""

    indicator: str
    entity_kind: str
    entity: str
    #: The city the entity lies in; 0 for a provincial department.
    city_code: int
    period: Period
    value: float
    note: str
    line: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What one value is for; a later upload with the same key supersedes it."""
        return self.indicator, self.entity_kind, self.entity, self.period.label
