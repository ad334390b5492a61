"""Reporting periods as ops write them, on Asia/Shanghai days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from streams.periods import PeriodError, parse_period


@pytest.mark.parametrize(
    ("text", "label", "first", "last"),
    [
        ("2026-11", "2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        ("2026-02", "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
        ("2028-02", "2028-02", date(2028, 2, 1), date(2028, 2, 29)),
        ("2026Q4", "2026Q4", date(2026, 10, 1), date(2026, 12, 31)),
        ("2026q1", "2026Q1", date(2026, 1, 1), date(2026, 3, 31)),
        ("2026H1", "2026H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("2026H2", "2026H2", date(2026, 7, 1), date(2026, 12, 31)),
        ("2026", "2026", date(2026, 1, 1), date(2026, 12, 31)),
        (" 2026-11-03..2026-11-16 ", "2026-11-03..2026-11-16", date(2026, 11, 3), date(2026, 11, 16)),
    ],
)
def test_each_form_covers_its_days(text: str, label: str, first: date, last: date) -> None:
    """Each accepted form names the local days it covers, both ends included."""
    period = parse_period(text)
    assert (period.label, period.first_day, period.last_day) == (label, first, last)


def test_bounds_are_local_midnights_in_utc() -> None:
    """A month starts at 00:00 Shanghai time of its first day (16:00 UTC the day before) and ends at the next."""
    period = parse_period("2026-11")
    assert period.start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert period.end == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert period.contains(datetime(2026, 10, 31, 16, tzinfo=UTC))
    assert not period.contains(datetime(2026, 11, 30, 16, tzinfo=UTC))
    assert period.days == 30


@pytest.mark.parametrize(
    ("text", "previous"),
    [
        ("2026-11", "2026-10"),
        ("2026-01", "2025-12"),
        ("2026Q1", "2025Q4"),
        ("2026Q3", "2026Q2"),
        ("2026H1", "2025H2"),
        ("2026H2", "2026H1"),
        ("2026", "2025"),
        ("2026-11-11..2026-11-20", "2026-11-01..2026-11-10"),
    ],
)
def test_previous_period_is_the_one_before(text: str, previous: str) -> None:
    """The period before has the same kind (a range: as many days), for period-over-period change."""
    assert parse_period(text).previous().label == previous


@pytest.mark.parametrize(
    "text",
    ["2026-13", "2026-00", "2026Q5", "2026H3", "26", "2026-11-31..2026-12-01", "2026-11-20..2026-11-01", "", "nov"],
)
def test_unreadable_periods_are_refused(text: str) -> None:
    """A period that does not exist or is not one of the forms is refused with a PeriodError."""
    with pytest.raises(PeriodError):
        parse_period(text)
