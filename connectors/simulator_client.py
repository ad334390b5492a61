"""Post the simulator's traffic through the ingest gateway, as the 21 city
nodes and their video nodes would: one batch per source and stream each
tick, a few in flight at once, 503s and dropped connections retried with
the same batch_id."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog

from streams.registry import Registry
from streams.simulator.kernel import Emitted
from streams.simulator.scenarios import SCENARIOS, Injected
from streams.simulator.simulation import DEFAULT_SALT, Simulation

log = structlog.get_logger(__name__)

MAX_BATCH_EVENTS = 2000
#: Worth another try with the same batch_id: the broker is down, or the
#: gateway or the network hiccupped. 4xx other than 429 will not get better.
RETRYABLE = frozenset({429, 500, 502, 503, 504})
_BATCH_ID_MAX = 64


@dataclass(slots=True)
class SimulatorStats:
    """What a simulator run sent and what the gateway made of it (counts are events unless named otherwise)."""

    ticks: int = 0
    batches: int = 0
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    #: Events never delivered: retries exhausted, 401/403/413, no token for the source.
    errors: int = 0
    retries: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    injected: list[Injected] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The counters as log fields."""
        return {
            "ticks": self.ticks,
            "batches": self.batches,
            "sent": self.sent,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "errors": self.errors,
            "retries": self.retries,
        }


@dataclass(frozen=True, slots=True)
class _Batch:
    stream: str
    source: str
    batch_id: str
    events: list[dict[str, Any]]


async def run_simulator(
    base_url: str,
    tokens: dict[str, str],
    registry: Registry,
    *,
    rate_eps: float,
    seed: int = 1,
    scenarios: Sequence[tuple[float, str]] = (),
    clock_offset: timedelta = timedelta(0),
    tick_s: float = 1.0,
    duration_s: float | None = None,
    stop: asyncio.Event | None = None,
    salt: str = DEFAULT_SALT,
    max_in_flight: int = 16,
    max_batch_events: int = MAX_BATCH_EVENTS,
    max_attempts: int = 8,
    backoff_s: float = 0.5,
    max_backoff_s: float = 10.0,
    drain_timeout_s: float = 15.0,
    clock: Callable[[], datetime] | None = None,
) -> SimulatorStats:
    """Run the simulation against `base_url` until `duration_s` (wall seconds) passes or `stop` is set.

    `tokens` maps each source id to its bearer token; `scenarios` lists
    (seconds after start, scenario name) to inject on the way.
    """
    unknown = sorted({name for _, name in scenarios} - set(SCENARIOS))
    if unknown:
        raise ValueError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    if tick_s <= 0 or max_batch_events < 1 or max_in_flight < 1 or max_attempts < 1:
        raise ValueError("tick_s, max_batch_events, max_in_flight and max_attempts must be positive")
    now_of = clock or (lambda: datetime.now(UTC))
    sim = Simulation(registry, rate_eps, seed, clock_offset, salt=salt)
    stats = SimulatorStats()
    pending = sorted(scenarios)
    loop = asyncio.get_running_loop()
    started = loop.time()
    log.info(
        "simulator_started",
        base_url=base_url,
        rate_eps=rate_eps,
        seed=seed,
        clock_offset_s=clock_offset.total_seconds(),
        halls=len(sim.halls.halls),
        tickets_per_s=round(sim.plan.tickets_per_s, 3),
        video_eps=round(sim.plan.video_eps, 3),
    )
    tasks: set[asyncio.Task[None]] = set()
    last: datetime | None = None
    next_progress = started + 60.0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        poster = _Poster(
            session,
            f"{base_url.rstrip('/')}/api/v1/ingest",
            tokens,
            stats,
            max_in_flight=max_in_flight,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            rng=random.Random(f"govpulse-sim-client:{seed}"),
        )
        while not (stop is not None and stop.is_set()):
            elapsed = loop.time() - started
            if duration_s is not None and elapsed >= duration_s:
                break
            now = now_of()
            while pending and pending[0][0] <= elapsed:
                _, name = pending.pop(0)
                injected = sim.inject(name, now)
                stats.injected.append(injected)
                log.info("simulator_scenario", scenario=name, target=injected.target, until=injected.until.isoformat())
            dt_s = tick_s if last is None else max((now - last).total_seconds(), 1e-6)
            emitted = sim.step(now, dt_s)
            last = now
            for batch in _batches(emitted, max_batch_events, sim.run_id, stats.ticks):
                task = asyncio.create_task(poster.post(batch))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            stats.ticks += 1
            # Backpressure: a gateway that cannot keep up slows the ticks
            # rather than letting unsent batches pile up in memory.
            while len(tasks) > 4 * max_in_flight:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if loop.time() >= next_progress:
                next_progress += 60.0
                log.info("simulator_progress", **stats.summary())
            await _sleep_until(loop, started + stats.ticks * tick_s, stop)
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=drain_timeout_s)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
    log.info("simulator_stopped", **stats.summary())
    return stats


async def _sleep_until(loop: asyncio.AbstractEventLoop, deadline: float, stop: asyncio.Event | None) -> None:
    delay = deadline - loop.time()
    if delay <= 0:
        await asyncio.sleep(0)
        return
    if stop is None:
        await asyncio.sleep(delay)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)


def _batches(emitted: Iterable[Emitted], max_events: int, run_id: str, tick: int) -> list[_Batch]:
    """One batch per (source, stream), split above `max_events`, each with an id unique to the run."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for stream, source, event in emitted:
        grouped[(source, stream)].append(event)
    batches = []
    for (source, stream), events in grouped.items():
        for part, start in enumerate(range(0, len(events), max_events)):
            batch_id = _batch_id(f"sim-{run_id}-{tick}-{source}-{stream}-{part}")
            batches.append(_Batch(stream, source, batch_id, events[start : start + max_events]))
    return batches


def _batch_id(wanted: str) -> str:
    if len(wanted) <= _BATCH_ID_MAX:
        return wanted
    # Only an unusually long run id gets here: keep the id unique, if less readable.
    return "sim-" + hashlib.sha256(wanted.encode()).hexdigest()[:40]


class _Poster:
    """Posts batches with a shared session, a limit on requests in flight, and retries."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        tokens: dict[str, str],
        stats: SimulatorStats,
        *,
        max_in_flight: int,
        max_attempts: int,
        backoff_s: float,
        max_backoff_s: float,
        rng: random.Random,
    ) -> None:
        self.url = url
        self._tokens = tokens
        self.stats = stats
        self.session = session
        self._slots = asyncio.Semaphore(max_in_flight)
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self._rng = rng
        self._missing_tokens: set[str] = set()

    async def post(self, batch: _Batch) -> None:
        stats = self.stats
        stats.batches += 1
        stats.sent += len(batch.events)
        token = self._tokens.get(batch.source)
        if token is None:
            stats.errors += len(batch.events)
            if batch.source not in self._missing_tokens:
                self._missing_tokens.add(batch.source)
                log.warning("simulator_no_token", source=batch.source)
            return
        body = json.dumps(
            {"source": batch.source, "batch_id": batch.batch_id, "events": batch.events}, ensure_ascii=False
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"}
        delay = self.backoff_s
        try:
            for attempt in range(1, self.max_attempts + 1):
                status, answer, error = await self._send(f"{self.url}/{batch.stream}", body.encode(), headers)
                if status in (202, 400) and isinstance(answer, dict) and "accepted" in answer:
                    self._record(batch, answer)
                    return
                if (status is None or status in RETRYABLE) and attempt < self.max_attempts:
                    stats.retries += 1
                    log.info("simulator_retry", batch_id=batch.batch_id, status=status, error=error, attempt=attempt)
                    await asyncio.sleep(delay * (0.5 + self._rng.random()))
                    delay = min(delay * 2, self.max_backoff_s)
                    continue
                stats.errors += len(batch.events)
                log.error(
                    "simulator_batch_failed",
                    batch_id=batch.batch_id,
                    source=batch.source,
                    stream=batch.stream,
                    events=len(batch.events),
                    status=status,
                    error=error or _detail(answer),
                    attempts=attempt,
                )
                return
        except asyncio.CancelledError:
            stats.errors += len(batch.events)
            raise

    async def _send(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, Any, str | None]:
        try:
            async with self._slots, self.session.post(url, data=body, headers=headers) as response:
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
                return response.status, answer, None
        except (aiohttp.ClientError, TimeoutError) as exc:
            return None, None, f"{type(exc).__name__}: {exc}"[:300]

    def _record(self, batch: _Batch, answer: dict[str, Any]) -> None:
        stats = self.stats
        accepted = answer.get("accepted")
        listed = answer.get("rejected")
        rejected: list[Any] = listed if isinstance(listed, list) else []
        stats.accepted += accepted if isinstance(accepted, int) else 0
        stats.rejected += len(rejected)
        for item in rejected:
            reason = str(item.get("reason", "unknown")) if isinstance(item, dict) else "unknown"
            stats.rejected_by_reason[reason] = stats.rejected_by_reason.get(reason, 0) + 1
        if rejected:
            first = rejected[0] if isinstance(rejected[0], dict) else {}
            log.warning(
                "simulator_rejected",
                batch_id=batch.batch_id,
                stream=batch.stream,
                source=batch.source,
                rejected=len(rejected),
                reason=first.get("reason"),
                detail=str(first.get("detail", ""))[:200],
            )


def _detail(answer: Any) -> str | None:
    if isinstance(answer, dict):
        return str(answer.get("detail") or answer.get("error") or "")[:300] or None
    return None
