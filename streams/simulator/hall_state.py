"""The state of a hall in the queue model: its windows, lines and staff, and
the figures the model is tuned by (service times, shares, the day's profile)."""

from __future__ import annotations

import itertools
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import date, timedelta

from streams.registry import Hall, Window
from streams.simulator.hours import Session, parse_opening

#: Median service time per window kind; 综合受理 and 专项 land in the 6–10 min range.
SERVICE_MEDIAN_S = {"综合受理": 480.0, "专项": 540.0, "出件": 120.0, "咨询": 180.0}
SERVICE_SIGMA = 0.45
#: Most windows a hall staffs on a day (the rest: leave, training, spare windows).
MAX_STAFFED_SHARE = 0.92
#: Halls staff as many windows as keep them this busy at the daily peak: a
#: visible line of a few minutes, short of the endless queue of an overloaded hall.
TARGET_UTILISATION = 0.75
#: Average window time per ticket outside the service itself: the pause before
#: the next call and the citizen walking up to the window.
CALL_OVERHEAD_S = 62.0
P_APPOINTMENT = 0.20
P_NO_SHOW = 0.03
#: A tenth of citizens are impatient and leave if not called within 1–10 min;
#: with the usual waits that makes about 2% of tickets walkouts, more when lines grow.
P_IMPATIENT = 0.10
IMPATIENT_AFTER_S = (60.0, 600.0)
#: The walkout share that results under normal load (for sizing the event rate).
WALKOUT_SHARE = 0.02
P_TRANSFER = 0.01
#: Anyone still waiting after an hour gives up with this probability.
LONG_WAIT_S = 3600.0
P_LONG_WAIT_WALKOUT = 0.3
#: Arrival intensity by local hour relative to the day's mean (morning and afternoon peaks).
HOURLY_PROFILE = {8: 0.7, 9: 0.9, 10: 1.15, 11: 0.95, 12: 0.7, 13: 0.8, 14: 0.95, 15: 1.1, 16: 0.95, 17: 0.7}
PEAK_PROFILE = max(HOURLY_PROFILE.values())
TICKET_LETTER = {"综合受理": "A", "专项": "B", "出件": "C", "咨询": "D"}
APPOINTMENT_LETTER = "Y"
_EPOCH_DATE = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
class Served:
    """A finished service, as the evaluation side needs to know it."""

    hall_id: str
    city_code: int
    source: str
    window_id: str
    staff_id: str
    item_id: str
    dept_id: str
    case_no: str


@dataclass(slots=True, eq=False)
class Ticket:
    ticket_no: str
    kind: str
    item_id: str
    dept_id: str
    appointment: bool
    issued_t: float
    state: str = "waiting"  # waiting, transferred, called, done, gone


@dataclass(slots=True, eq=False)
class WindowSim:
    window_id: str
    kind: str
    state: str = "closed"  # closed, open, paused
    staffed: bool = False
    staff_id: str | None = None
    logged_in: bool = False
    busy: bool = False
    call_pending: bool = False
    #: Paused by a scenario: the window stops calling and stays paused until released.
    held: bool = False
    transfers: deque[Ticket] = field(default_factory=deque)


@dataclass(slots=True, eq=False)
class HallSim:
    hall: Hall
    source: str
    spans: tuple[tuple[int, int], ...]
    windows: list[WindowSim]
    staff_pool: list[str]
    #: Tickets per second all windows could serve, and what the staffed ones are expected to.
    full_capacity: float
    capacity: float
    staffed_count: int
    kinds: list[str]
    kind_cum: list[float]
    lines: dict[str, tuple[deque[Ticket], deque[Ticket]]]
    waiting_by_kind: dict[str, int]
    session: Session | None = None
    closing: bool = True
    day: int = -1
    counters: dict[str, int] = field(default_factory=dict)
    cases: int = 0
    boost: float = 1.0

    def accepting(self, t: float) -> bool:
        s = self.session
        return s is not None and not self.closing and s.open_t <= t < s.intake_end_t

    @property
    def waiting(self) -> int:
        return sum(self.waiting_by_kind.values()) + sum(len(w.transfers) for w in self.windows)


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def mean_service_s(kind: str) -> float:
    """Mean time a window spends per ticket: the service plus calling and walking up."""
    return SERVICE_MEDIAN_S.get(kind, SERVICE_MEDIAN_S["综合受理"]) * math.exp(SERVICE_SIGMA**2 / 2) + CALL_OVERHEAD_S


def hall_sim(hall: Hall, source: str, windows: list[Window]) -> HallSim:
    sims = [WindowSim(w.window_id, w.kind) for w in windows]
    capacity_by_kind: dict[str, float] = {}
    for w in sims:
        capacity_by_kind[w.kind] = capacity_by_kind.get(w.kind, 0.0) + 1 / mean_service_s(w.kind)
    kinds = sorted(capacity_by_kind)
    # A hall has about a tenth more staff than windows, for shifts and leave.
    staff = [f"ST{hall.hall_id[1:]}-{k:02d}" for k in range(1, math.ceil(len(sims) * 1.1) + 1)]
    return HallSim(
        hall=hall,
        source=source,
        spans=parse_opening(hall.opening),
        windows=sims,
        staff_pool=staff,
        full_capacity=sum(capacity_by_kind.values()),
        capacity=0.0,
        staffed_count=0,
        kinds=kinds,
        kind_cum=list(itertools.accumulate(capacity_by_kind[k] for k in kinds)),
        lines={k: (deque(), deque()) for k in kinds},
        waiting_by_kind={k: 0 for k in kinds},
    )


def mmdd(day: int) -> str:
    return (_EPOCH_DATE + timedelta(days=day)).strftime("%m%d")


def staff_hall_id(staff_id: str) -> str | None:
    """The hall a simulated staff id belongs to: 'ST440103001-05' -> 'H440103001'."""
    if staff_id.startswith("ST") and "-" in staff_id:
        return "H" + staff_id[2:].split("-", 1)[0]
    return None
