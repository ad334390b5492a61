"""Reporting periods: a month, quarter, half-year, year or a range of days, on Asia/Shanghai days.

Reports and the national 好差评 upload name their period as ops write it on the command line
(`2026-11`, `2026Q4`, `2026H2`, `2026`, `2026-11-03..2026-11-16`); this turns that into the local days it covers
and the UTC instants that bound it in storage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from streams.workdays import SHANGHAI

PeriodKind = Literal["month", "quarter", "half", "year", "range"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$", re.IGNORECASE)
_HALF = re.compile(r"^(\d{4})H([12])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
#: A range longer than this is almost surely a typo in a year; a report over it would scan everything stored.
MAX_RANGE_DAYS = 366 * 5


class PeriodError(ValueError):
    """A period that cannot be read; the message says which forms are accepted."""


@dataclass(frozen=True, slots=True)
class Period:
    """The local days `first_day` to `last_day`, both included."""

    label: str
    kind: PeriodKind
    first_day: date
    last_day: date

    @property
    def start(self) -> datetime:
        """The first instant of the period, in UTC (local midnight of its first day)."""
        return datetime.combine(self.first_day, time(0), SHANGHAI).astimezone(UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the period, in UTC (local midnight after its last day)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end

    def previous(self) -> Period:
        """The period just before, of the same kind (for a range: as many days, ending the day before)."""
        if self.kind == "range":
            last = self.first_day - timedelta(days=1)
            first = last - timedelta(days=self.days - 1)
            return Period(f"{first.isoformat()}..{last.isoformat()}", "range", first, last)
        return parse_period(_label_before(self))


def _months(year: int, first_month: int, count: int) -> tuple[date, date]:
    first = date(year, first_month, 1)
    after_month = first_month + count
    after = date(year + (after_month - 1) // 12, (after_month - 1) % 12 + 1, 1)
    return first, after - timedelta(days=1)


def _label_before(period: Period) -> str:
    y = period.first_day.year
    m = period.first_day.month
    if period.kind == "month":
        return f"{y - 1}-12" if m == 1 else f"{y}-{m - 1:02d}"
    if period.kind == "quarter":
        q = (m - 1) // 3 + 1
        return f"{y - 1}Q4" if q == 1 else f"{y}Q{q - 1}"
    if period.kind == "half":
        return f"{y - 1}H2" if m == 1 else f"{y}H1"
    return str(y - 1)


def parse_period(text: str) -> Period:
    """Read `2026-11`, `2026Q4`, `2026H2`, `2026` or `FROM..TO` (ISO dates, both included)."""
    value = text.strip()
    try:
        if m := _MONTH.match(value):
            year, month = int(m[1]), int(m[2])
            if not 1 <= month <= 12:
                raise PeriodError(f"period {text!r}: month {month} is not 01-12")
            return Period(f"{year}-{month:02d}", "month", *_months(year, month, 1))
        if m := _QUARTER.match(value):
            year, quarter = int(m[1]), int(m[2])
            return Period(f"{year}Q{quarter}", "quarter", *_months(year, 3 * quarter - 2, 3))
        if m := _HALF.match(value):
            year, half = int(m[1]), int(m[2])
            return Period(f"{year}H{half}", "half", *_months(year, 6 * half - 5, 6))
        if m := _YEAR.match(value):
            year = int(m[1])
            return Period(str(year), "year", date(year, 1, 1), date(year, 12, 31))
        if m := _RANGE.match(value):
            first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
            if last < first:
                raise PeriodError(f"period {text!r}: {last} is before {first}")
            if (last - first).days + 1 > MAX_RANGE_DAYS:
                raise PeriodError(f"period {text!r}: longer than {MAX_RANGE_DAYS} days")
            return Period(f"{first.isoformat()}..{last.isoformat()}", "range", first, last)
    except ValueError as exc:  # date() refusing a day or year that does not exist
        if isinstance(exc, PeriodError):
            raise
        raise PeriodError(f"period {text!r}: {exc}") from None
    raise PeriodError(
        f"period {text!r} is not a month (2026-11), quarter (2026Q4), half (2026H2), year (2026)"
        " or range of days (2026-11-01..2026-11-15)"
    )
