"""The whole simulated province behind one clock-driven call: `step(now, dt_s)`
returns what the 21 city nodes and their video nodes would send in that
interval. Pure and deterministic for a seed and a sequence of steps."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from streams.registry import Registry, Source
from streams.simulator import hall_state as hall_model
from streams.simulator import reviews as review_model
from streams.simulator.catalog import Catalog
from streams.simulator.halls import Halls
from streams.simulator.kernel import Agenda, Emitted, Emitter, Kernel
from streams.simulator.reviews import Reviews
from streams.simulator.scenarios import Injected, Scenarios
from streams.simulator.video import VideoNet

DEFAULT_SALT = "govpulse-demo-salt"
#: A step that follows a long pause (a suspended laptop) does not backfill
#: more arrivals than this; what was already under way still completes.
MAX_BACKFILL_S = 900.0
#: Steps of a bad-review case: created, assigned, verified, rectified, revisited,
#: closed, plus the occasional transfer or appeal.
CASE_STEPS = 6.3


@dataclass(frozen=True, slots=True)
class RatePlan:
    """How the requested event rate is split, worked out from the registry."""

    rate_eps: float
    video_eps: float
    window_eps: float
    events_per_ticket: float
    tickets_per_s: float
    service_scale: float


class Simulation:
    """Every hall, evaluation channel and video node of a registry, on a manual clock."""

    def __init__(
        self,
        registry: Registry,
        rate_eps: float,
        seed: int,
        clock_offset: timedelta = timedelta(0),
        *,
        salt: str = DEFAULT_SALT,
        default_level: str = "satisfied",
        default_after_s: float = 1800.0,
        case_step_s: tuple[float, float] = (300.0, 2400.0),
        heartbeat_interval_s: float = 60.0,
        probe_interval_s: float = 300.0,
        late_share: float = 0.02,
        late_max_s: float = 240.0,
        run_id: str | None = None,
    ) -> None:
        if rate_eps < 0:
            raise ValueError(f"rate_eps must not be negative, got {rate_eps}")
        self.seed = seed
        self._run_id = run_id
        # One generator per concern, each seeded from the seed by name (string
        # seeds are hashed with SHA-512, not hash()), so that injecting a
        # scenario does not reshuffle the video network or the queues.
        rng = {
            name: random.Random(f"govpulse-sim:{seed}:{name}")
            for name in ("halls", "reviews", "video", "late", "scenarios")
        }
        self.kernel = Kernel(
            Agenda(), Emitter(rng["late"], late_share=late_share, late_max_s=late_max_s), clock_offset.total_seconds()
        )
        self.kernel.sources = _city_sources(registry)
        catalog = Catalog(registry)
        self.video = VideoNet(
            registry,
            self.kernel,
            rng["video"],
            heartbeat_interval_s=heartbeat_interval_s,
            probe_interval_s=probe_interval_s,
        )
        self.reviews = Reviews(
            self.kernel,
            rng["reviews"],
            catalog,
            salt=salt,
            default_level=default_level,
            default_after_s=default_after_s,
            case_step_s=case_step_s,
        )
        per_ticket = expected_events_per_ticket()
        self.halls = Halls(registry, self.kernel, rng["halls"], catalog, self.reviews.on_completed, tickets_per_s=0.0)
        # Video traffic is fixed by the camera count and window traffic by the
        # staffing, which follows the ticket rate: two rounds settle the split.
        tickets_per_s = 0.0
        for _ in range(2):
            rest = rate_eps - self.video.events_per_s - self.halls.window_events_per_s
            tickets_per_s = max(rest, 0.2 * rate_eps) / per_ticket
            self.halls.configure(tickets_per_s)
        self.scenarios = Scenarios(self.halls, self.reviews, self.video, rng["scenarios"])
        self.plan = RatePlan(
            rate_eps=rate_eps,
            video_eps=self.video.events_per_s,
            window_eps=self.halls.window_events_per_s,
            events_per_ticket=per_ticket,
            tickets_per_s=tickets_per_s,
            service_scale=self.halls.service_scale,
        )
        self._t: float | None = None

    @property
    def run_id(self) -> str:
        """Part of every event_id, case number and case id; fixed at the first step."""
        return self.kernel.emitter.run_id

    def step(self, now: datetime, dt_s: float) -> list[Emitted]:
        """Advance the model over (now - dt_s, now] and return the events due to be sent at `now`."""
        t = _epoch(now)
        if dt_s <= 0:
            raise ValueError(f"dt_s must be positive, got {dt_s}")
        last_t = self._start(t - dt_s)
        if t > last_t:
            self.kernel.step_start = max(t - dt_s, last_t)
            self.halls.sample_arrivals(max(last_t, t - MAX_BACKFILL_S), t)
            self.kernel.agenda.run_until(t)
            self._t = t
        return self.kernel.emitter.flush(t)

    def inject(
        self, name: str, now: datetime, *, target: str | None = None, duration_s: float | None = None, **params: Any
    ) -> Injected:
        """Start scenario `name` at `now` (see `SCENARIOS`).

        `target` is a hall, staff or node id, else one is chosen.
        """
        t = _epoch(now)
        self._start(t)
        return self.scenarios.inject(name, t, target, duration_s, params)

    def waiting(self, hall_id: str) -> int:
        """Tickets waiting in a hall's line right now."""
        return self.halls.halls[hall_id].waiting

    def _start(self, t: float) -> float:
        """Set the model up at `t` on first use; returns the instant simulated so far."""
        if self._t is not None:
            return self._t
        self.kernel.emitter.run_id = self._run_id or f"s{self.seed}t{_base36(int(t))}"
        self.kernel.step_start = t
        self.halls.start(t)
        self.video.start(t)
        self._t = t
        return t


def expected_events_per_ticket() -> float:
    """Events one issued ticket leads to on average, across queue, evaluation and case streams."""
    p_walkout, p_no_show = hall_model.WALKOUT_SHARE, hall_model.P_NO_SHOW
    called = 1.0 - p_walkout
    served = called * (1.0 - p_no_show)
    bad_share = sum(
        w for level, w in zip(review_model.LEVELS, review_model.LEVEL_WEIGHTS, strict=True) if level in review_model.BAD
    )
    bad_share /= sum(review_model.LEVEL_WEIGHTS)
    active = review_model.P_HALL_PAD + review_model.P_ONLINE
    per_served = 2.0 + 3.0 * hall_model.P_TRANSFER + 1.0 + active * bad_share * CASE_STEPS
    return 1.0 + p_walkout + called * (1.0 + p_no_show) + served * per_served


def _city_sources(registry: Registry) -> dict[int, str]:
    """The data node that speaks for each city: `node-<citycode>` when the registry has it."""
    sources: dict[int, str] = {}
    for source in registry.sources():
        if isinstance(source, Source) and sources.get(source.city_code) != f"node-{source.city_code}":
            sources[source.city_code] = source.source_id
    return sources


def _epoch(now: datetime) -> float:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now.timestamp()


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out
