"""Working days on the Chinese calendar (法定节假日 and 调休), for case deadlines.

The public holidays and the weekend days made working days (调休) come from
the maintained `chinesecalendar` package, which the State Council's yearly
notice updates. A year it does not cover yet falls back to Monday-Friday,
plus any dates a locality configures itself, and says so once in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone

import chinese_calendar
import structlog

log = structlog.get_logger(__name__)

#: Local time in the province. China has had no daylight saving since 1991, so a fixed +08:00 is exact and needs
#: no tz database lookup.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


class WorkingDays:
    def __init__(self, extra_holidays: Iterable[date] = (), extra_workdays: Iterable[date] = ()) -> None:
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_workdays = frozenset(extra_workdays)
        self._warned_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned_years:
                self._warned_years.add(day.year)
                log.warning("calendar_year_not_covered", year=day.year, fallback="monday-friday plus configured dates")
            return day.weekday() < 5

    def deadline(self, start: datetime, working_days: int) -> datetime:
        """The end (local midnight) of the `working_days`-th working day after `start`'s local day.

        0 means the end of the start day if it is a working day, else of the
        next working day: a step done on a Sunday is due with Monday's work.
        """
        day = start.astimezone(SHANGHAI).date()
        remaining = working_days
        if not self.is_workday(day):
            day = self._next_workday(day)
        while remaining > 0:
            day = self._next_workday(day)
            remaining -= 1
        return datetime.combine(day + timedelta(days=1), time(0), SHANGHAI).astimezone(UTC)

    def _next_workday(self, day: date) -> date:
        day += timedelta(days=1)
        for _ in range(60):  # no Chinese holiday is longer than a few weeks
            if self.is_workday(day):
                return day
            day += timedelta(days=1)
        raise ValueError(f"no working day within 60 days after {day}")


DEFAULT = WorkingDays()
