"""Which reports are due: each month, quarter, half-year and year, once it has closed and late records had time.

A period closes at local midnight after its last day (Asia/Shanghai). Its reports are written `grace` later, by
default at 02:00 on the 1st, so that records of the period's last evening sent late are in. A period is due until
its folder in the archive says it is complete; a process that was down at the time writes them when it is back.
Only the latest closed period of each kind is due: a fresh install does not write years of empty reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.periods import Period, parse_period
from streams.reports.tables import Level
from streams.workdays import SHANGHAI

DEFAULT_GRACE = timedelta(hours=2)


def latest_closed(now: datetime, grace: timedelta = DEFAULT_GRACE) -> list[Period]:
    """The latest month, quarter, half-year and year that closed at least `grace` before `now`."""
    today = (now - grace).astimezone(SHANGHAI).date()
    current = [
        parse_period(f"{today.year}-{today.month:02d}"),
        parse_period(f"{today.year}Q{(today.month - 1) // 3 + 1}"),
        parse_period(f"{today.year}H{1 if today.month <= 6 else 2}"),
        parse_period(str(today.year)),
    ]
    return [p.previous() for p in current]


@dataclass(frozen=True, slots=True)
class Job:
    """One report of a due period: its level and city (for the city level)."""

    period: Period
    level: Level
    city: int | None = None


def jobs(period: Period, cities: list[int]) -> list[Job]:
    """Every report a period's archive holds: the province's, the departments', and each city's."""
    return [Job(period, "province"), Job(period, "dept"), *(Job(period, "city", code) for code in cities)]
