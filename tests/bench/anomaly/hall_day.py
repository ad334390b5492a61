"""What a hall's indicators look like on an ordinary day: the load through the day and the four series families.

The load is the share of a hall's peak rate expected in a window: closed at
night and on rest days (a self-service kiosk still issues the odd ticket),
a slow first half hour after opening, the morning peak, a lunch dip when a
duty window alone stays open, the afternoon, and the close. Which days are
rest days comes from the 调休 calendar, so a working Saturday is open and a
Monday holiday is closed.

Each family turns the load into a value, with count-like noise and the
effects of the injected anomalies (`Effects`):
- `count`: tickets issued in the window, Poisson around the expected rate;
- `share`: a share in [0, 1] of those tickets (suspicious or rejected), mostly near zero; no value in a window
  with no ticket;
- `latency`: the mean wait in minutes of the tickets called in the window, longer when the hall is busy; no value
  in a window with no ticket;
- `flat`: a near-flat count around the clock (a node's heartbeats), which wobbles by one now and then.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from streams.workdays import DEFAULT as WORKING_DAYS
from streams.workdays import SHANGHAI

FAMILIES = ("count", "share", "latency", "flat")

#: The load of a closed hall: a kiosk issues a ticket now and then.
NIGHT_LOAD = 0.004


@dataclass(frozen=True)
class Hours:
    """A hall's opening hours, in minutes after local midnight."""

    opens: int = 9 * 60
    lunch: int = 12 * 60
    reopens: int = 14 * 60
    closes: int = 17 * 60 + 30

    def load(self, minute: int) -> float:
        """The share of the peak rate expected in the window starting at `minute` of a working day."""
        knots = (
            (self.opens, 0.45),
            (self.opens + 60, 1.0),
            (11 * 60 + 30, 0.85),
            (self.lunch, 0.6),
            (self.lunch, 0.12),  # the lunch dip: one duty window
            (self.reopens, 0.12),
            (self.reopens, 0.6),
            (15 * 60, 0.9),
            (16 * 60 + 30, 0.7),
            (self.closes, 0.35),
        )
        if minute < self.opens or minute >= self.closes:
            return NIGHT_LOAD
        for (m0, v0), (m1, v1) in itertools.pairwise(knots):
            if m0 <= minute < m1:
                return v0 + (v1 - v0) * (minute - m0) / (m1 - m0)
        return knots[-1][1]

    def is_open(self, minute: int) -> bool:
        return self.opens <= minute < self.closes


def day_factors(rng: random.Random, days: list[date]) -> dict[date, float]:
    """How busy each day is against an ordinary one: Mondays and the day after a long closure are busier."""
    out: dict[date, float] = {}
    closed_run = 0
    for day in days:
        if not WORKING_DAYS.is_workday(day):
            closed_run += 1
            out[day] = 1.0
            continue
        factor = math.exp(rng.gauss(0.0, 0.12))
        if day.weekday() == 0:
            factor *= 1.2
        elif day.weekday() >= 5:  # a 调休 weekend day: open, but quieter
            factor *= 0.8
        if closed_run >= 3:  # the queue that built up over a holiday
            factor *= 1.4
        closed_run = 0
        out[day] = factor
    return out


def load_at(at: datetime, hours: Hours, factors: dict[date, float]) -> float:
    """The expected share of the peak rate at `at` (any zone), from the hall's hours and the day's factor."""
    local = at.astimezone(SHANGHAI)
    day = local.date()
    if not WORKING_DAYS.is_workday(day):
        return NIGHT_LOAD
    return hours.load(local.hour * 60 + local.minute) * factors.get(day, 1.0)


@dataclass
class Effects:
    """What the injected anomalies do to each window; the family decides how each effect shows."""

    size: int
    #: Multiplies the series' level from a shift or a drift on (1: unchanged).
    gain: list[float] = field(default_factory=list)
    #: A spike's strength in the window (0: none); a multiple for most families, extra events for a share.
    burst: list[float] = field(default_factory=list)
    #: The series reads zero while open (a machine or a recorder down).
    dead: list[bool] = field(default_factory=list)
    #: Extra noise (a log-normal spread; relative to the level for `flat`) during a variance change.
    jitter: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gain = [1.0] * self.size
        self.burst = [0.0] * self.size
        self.dead = [False] * self.size
        self.jitter = [0.0] * self.size


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw: Knuth's product of uniforms when small, a rounded normal when large."""
    if lam <= 0.0:
        return 0
    if lam > 30.0:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(1 for _ in range(n) if rng.random() < p)


@dataclass(frozen=True)
class Level:
    """One series' own scale: a small hall or a large one."""

    #: Tickets in a peak window (the denominator of a share, the tickets behind a latency).
    peak: float
    #: The ordinary share (share), wait in minutes at peak (latency) or level (flat); unused for a count.
    base: float


def draw_level(rng: random.Random, family: str) -> Level:
    peak = math.exp(rng.uniform(math.log(1.5), math.log(60.0)))
    if family == "share":
        return Level(peak, math.exp(rng.uniform(math.log(0.005), math.log(0.06))))
    if family == "latency":
        return Level(peak, rng.uniform(3.0, 25.0))
    if family == "flat":
        return Level(peak, float(rng.choice((12, 60, 120, 288))))
    return Level(peak, 0.0)


Sampler = Callable[[random.Random, Level, float, Effects, int], float | None]


def _count(rng: random.Random, level: Level, load: float, fx: Effects, i: int) -> float | None:
    if fx.dead[i]:
        return 0.0
    lam = level.peak * load * fx.gain[i] * (fx.burst[i] or 1.0)
    if fx.jitter[i]:
        lam *= math.exp(rng.gauss(0.0, fx.jitter[i]))
    return float(poisson(rng, lam))


def _share(rng: random.Random, level: Level, load: float, fx: Effects, i: int) -> float | None:
    n = poisson(rng, level.peak * load)
    p = level.base * fx.gain[i]
    if fx.jitter[i]:
        p *= math.exp(rng.gauss(0.0, fx.jitter[i]))
    k = binomial(rng, n, min(p, 0.95))
    if fx.burst[i]:  # a burst of suspicious or rejected records on top of the ordinary ones
        extra = poisson(rng, fx.burst[i])
        k, n = k + extra, n + extra
    return round(k / n, 4) if n else None


def _latency(rng: random.Random, level: Level, load: float, fx: Effects, i: int) -> float | None:
    n = poisson(rng, level.peak * load)
    if n == 0:
        return None
    if fx.dead[i]:
        return 0.0
    # The wait grows with the queue; the mean of n waits wobbles less than one wait does.
    mean = level.base * (0.4 + 0.8 * min(load, 1.5)) * fx.gain[i] * (fx.burst[i] or 1.0)
    noise = rng.gauss(0.0, 0.45 / math.sqrt(n)) + (rng.gauss(0.0, fx.jitter[i]) if fx.jitter[i] else 0.0)
    return round(mean * math.exp(noise), 2)


def _flat(rng: random.Random, level: Level, load: float, fx: Effects, i: int) -> float | None:
    if fx.dead[i]:
        return 0.0
    value = level.base * fx.gain[i] * (fx.burst[i] or 1.0)
    if fx.jitter[i]:
        value += rng.gauss(0.0, fx.jitter[i] * level.base)
    elif rng.random() < 0.05:
        value += rng.choice((-1.0, 1.0))
    return float(max(0, round(value)))


SAMPLERS: dict[str, Sampler] = {"count": _count, "share": _share, "latency": _latency, "flat": _flat}
