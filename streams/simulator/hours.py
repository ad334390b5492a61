"""Hall opening hours on the simulated local clock (Asia/Shanghai, Mon–Fri).

Times inside the simulator are float UTC epoch seconds: the agenda orders
hundreds of thousands of them and float arithmetic keeps that cheap. The hall
clock is that instant shifted by the simulation's `clock_offset`, so a demo
at night can behave like a weekday morning while events keep real stamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from streams.workdays import SHANGHAI

#: China has had no daylight saving since 1991, so a fixed +08:00 is exact and
#: needs no tz database lookup (no file I/O, on import or later).
_UTC_OFFSET_S = 8 * 3600
_DAY_S = 86_400
#: 1970-01-01 was a Thursday (Monday = 0).
_EPOCH_WEEKDAY = 3
_EPOCH_DATE = date(1970, 1, 1)

#: Halls stop issuing tickets this long before a session ends so that the
#: line empties by closing time, as real halls do (停止取号).
INTAKE_CUTOFF_S = 1200
#: Ticket steps are squeezed into the session so that nothing a window does
#: happens after it closes.
CLOSING_MARGIN_S = 60


@dataclass(frozen=True, slots=True)
class Session:
    """One opening span of one hall on one local day, in epoch seconds."""

    day: int
    open_t: float
    close_t: float
    last_of_day: bool

    @property
    def intake_end_t(self) -> float:
        return self.close_t - min(INTAKE_CUTOFF_S, (self.close_t - self.open_t) / 4)

    @property
    def closing_t(self) -> float:
        """When the hall stops calling and sends the remaining line home."""
        return max(self.open_t, self.close_t - CLOSING_MARGIN_S)

    @property
    def last_t(self) -> float:
        """Latest moment a ticket step may happen in this session."""
        return max(self.open_t, self.closing_t - 1)


def parse_opening(text: str) -> tuple[tuple[int, int], ...]:
    """'09:00-12:00,13:30-17:30' -> ((32400, 43200), (48600, 63000)) in seconds of the day."""
    spans = []
    for part in text.split(","):
        start, _, end = part.strip().partition("-")
        spans.append((_seconds(start), _seconds(end)))
    spans.sort()
    return tuple((s, e) for s, e in spans if e > s)


def _seconds(hhmm: str) -> int:
    hours, _, minutes = hhmm.partition(":")
    return int(hours) * 3600 + int(minutes) * 60


def local_day_and_second(t: float, offset_s: float) -> tuple[int, float]:
    """The hall-local day number (days since 1970-01-01) and second of that day."""
    local = t + offset_s + _UTC_OFFSET_S
    day = int(local // _DAY_S)
    return day, local - day * _DAY_S


def is_working_day(day: int) -> bool:
    """Monday to Friday; public holidays and 调休 are out of the simulator's scope."""
    return (day + _EPOCH_WEEKDAY) % 7 < 5


def real_time(day: int, second: float, offset_s: float) -> float:
    """The epoch instant at which the hall clock shows `second` on `day`."""
    return day * _DAY_S + second - _UTC_OFFSET_S - offset_s


def session_at_or_after(spans: tuple[tuple[int, int], ...], t: float, offset_s: float) -> Session | None:
    """The session in progress at `t`, else the next one; None if a hall never opens."""
    if not spans:
        return None
    day, _ = local_day_and_second(t, offset_s)
    for d in range(day, day + 8):
        if not is_working_day(d):
            continue
        for index, (start, end) in enumerate(spans):
            close_t = real_time(d, end, offset_s)
            if close_t > t:
                return Session(d, real_time(d, start, offset_s), close_t, index == len(spans) - 1)
    return None


def is_open(spans: tuple[tuple[int, int], ...], t: float, offset_s: float) -> bool:
    """Whether the hall clock at `t` is inside one of the spans on a working day (ends included)."""
    day, second = local_day_and_second(t, offset_s)
    return is_working_day(day) and any(start <= second <= end for start, end in spans)


def offset_to(now: datetime, hhmm: str = "10:00") -> timedelta:
    """The `clock_offset` that shows `hhmm` on the latest working day on hall clocks at `now`.

    For demos at any hour.
    """
    local = now.astimezone(SHANGHAI)
    day = local.date()
    while not is_working_day((day - _EPOCH_DATE).days):
        day -= timedelta(days=1)
    hours, _, minutes = hhmm.partition(":")
    wanted = datetime(day.year, day.month, day.day, int(hours), int(minutes), tzinfo=SHANGHAI)
    return wanted - local


def iso(t: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. 2026-11-21T03:04:05.123+00:00."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
