"""Case deadlines in working days on the Chinese calendar."""

from datetime import UTC, date, datetime, timedelta, timezone

from streams.workdays import WorkingDays

CST = timezone(timedelta(hours=8))


def _local_midnight(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=CST).astimezone(UTC)


def test_national_day_holidays_and_the_make_up_sunday() -> None:
    """2025: 1-8 October are holidays, Sunday 28 September and Saturday 11 October are working days (调休)."""
    days = WorkingDays()
    assert not days.is_workday(date(2025, 10, 1)) and not days.is_workday(date(2025, 10, 8))
    assert days.is_workday(date(2025, 9, 28)) and days.is_workday(date(2025, 10, 11))


def test_a_deadline_skips_the_golden_week() -> None:
    """One working day after 30 September 2025 (a Tuesday) ends with 9 October, the first day back."""
    start = datetime(2025, 9, 30, 10, 0, tzinfo=CST)
    assert WorkingDays().deadline(start, 1) == _local_midnight(2025, 10, 10)
    assert WorkingDays().deadline(start, 0) == _local_midnight(2025, 10, 1)


def test_a_step_on_a_weekend_is_due_with_the_next_working_day() -> None:
    """Deadline 0 from Saturday 15 November 2025 is the end of Monday 17th; 2 days is the end of Wednesday."""
    start = datetime(2025, 11, 15, 9, 0, tzinfo=CST)
    assert WorkingDays().deadline(start, 0) == _local_midnight(2025, 11, 18)
    assert WorkingDays().deadline(start, 2) == _local_midnight(2025, 11, 20)


def test_a_year_the_package_does_not_cover_falls_back_to_weekdays_and_local_dates() -> None:
    """For a year beyond the package, Monday-Friday count, and a locality's own dates override them."""
    days = WorkingDays(extra_holidays=[date(2099, 1, 2)], extra_workdays=[date(2099, 1, 3)])
    assert days.is_workday(date(2099, 1, 1))  # a Thursday
    assert not days.is_workday(date(2099, 1, 2))  # Friday, declared a local holiday
    assert days.is_workday(date(2099, 1, 3))  # Saturday, declared a working day
    assert not days.is_workday(date(2099, 1, 4))  # Sunday
