"""Probe every camera once per interval, spread over the interval, and derive node heartbeats.

`ProbePlan` is the pure part (which cameras are due at a given moment, on
any clock); `Scheduler` drives it on the event loop through a `ProbeRunner`.
A camera whose previous probe is still running when it comes due again is
skipped, not queued twice, and a slow camera only ever holds its own slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import inspect
import math
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import partial
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from video_gateway.metrics import VideoMetrics
from video_gateway.probe import CameraTarget, ProbeResult
from video_gateway.runner import ProbeRunner

log = structlog.get_logger("govpulse.video_gateway")

ResultHandler = Callable[[ProbeResult], Awaitable[None] | None]
Clock = Callable[[], float]


def spread_offset(camera_id: str, interval_s: float) -> float:
    """A stable place for the camera in the cycle, so restarts keep the load flat.

    crc32 rather than hash(): Python's hash is salted per process.
    """
    return zlib.crc32(camera_id.encode()) / 2**32 * interval_s


class ProbePlan:
    """When each camera is next due."""

    def __init__(self, targets: Iterable[CameraTarget], interval_s: float, start: float) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self._targets: dict[str, CameraTarget] = {}
        self._heap: list[tuple[float, str]] = []
        self.replace(targets, start)

    def __len__(self) -> int:
        return len(self._targets)

    @property
    def targets(self) -> list[CameraTarget]:
        return list(self._targets.values())

    def replace(self, targets: Iterable[CameraTarget], now: float) -> None:
        """Take a new camera list (a registry update): kept cameras keep their slot, new ones get theirs."""
        fresh = {t.camera_id: t for t in targets}
        kept = [(due, cid) for due, cid in self._heap if cid in fresh]
        scheduled = {cid for _, cid in kept}
        for cid in fresh:
            if cid not in scheduled:
                kept.append((now + spread_offset(cid, self.interval_s), cid))
        heapq.heapify(kept)
        self._heap, self._targets = kept, fresh

    def due(self, now: float) -> list[CameraTarget]:
        """Cameras due by `now`; each is rescheduled one interval on (skipping slots it missed)."""
        out = []
        while self._heap and self._heap[0][0] <= now:
            due, cid = heapq.heappop(self._heap)
            missed = math.floor((now - due) / self.interval_s)
            heapq.heappush(self._heap, (due + (missed + 1) * self.interval_s, cid))
            out.append(self._targets[cid])
        return out

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None


def node_heartbeats(
    cameras_by_node: Mapping[str, Iterable[str]],
    latest: Mapping[str, ProbeResult],
    *,
    version: str,
    interval_s: float,
) -> list[dict[str, Any]]:
    """`node_heartbeat` fields per node, from the latest probe of each of its cameras.

    A node is reported only once all its cameras have a result, so start-up
    does not look like an outage; and not at all while every camera is
    unreachable (`offline`): the node itself is then down, its heartbeat
    stops, and the absence rule (which inhibits the cameras' own alerts)
    says so rather than a heartbeat with zero cameras online.
    """
    beats = []
    for node_id, camera_ids in sorted(cameras_by_node.items()):
        results = [latest.get(cid) for cid in camera_ids]
        if not results or any(r is None for r in results):
            continue
        known = [r for r in results if r is not None]
        if all(r.status == "offline" for r in known):
            continue
        beats.append(
            {
                "type": "node_heartbeat",
                "node_id": node_id,
                "cameras_total": len(known),
                "cameras_online": sum(1 for r in known if r.online),
                "version": version,
                "interval_s": max(1, min(3600, round(interval_s))),
            }
        )
    return beats


class Scheduler:
    """Keeps every camera probed on its interval; `latest` holds each camera's last result."""

    def __init__(
        self,
        targets: Iterable[CameraTarget],
        runner: ProbeRunner,
        *,
        on_result: ResultHandler | None = None,
        clock: Clock = time.monotonic,
        metrics: VideoMetrics | None = None,
    ) -> None:
        self.runner = runner
        self.clock = clock
        self.plan = ProbePlan(targets, runner.config.interval_s, clock())
        self.latest: dict[str, ProbeResult] = {}
        self._on_result = on_result
        self._in_flight: dict[str, asyncio.Task[ProbeResult]] = {}
        self.skipped = 0
        self.metrics = metrics or VideoMetrics(CollectorRegistry())
        # Read at scrape time, so a camera list swapped in through `plan.replace` shows at once.
        self.metrics.cameras.set_function(lambda: len(self.plan))
        self.metrics.nodes.set_function(lambda: len(self.cameras_by_node()))

    def cameras_by_node(self) -> dict[str, list[str]]:
        nodes: dict[str, list[str]] = {}
        for target in self.plan.targets:
            nodes.setdefault(target.node_id, []).append(target.camera_id)
        return nodes

    def heartbeats(self, version: str) -> list[dict[str, Any]]:
        return node_heartbeats(
            self.cameras_by_node(), self.latest, version=version, interval_s=self.runner.config.heartbeat_interval_s
        )

    async def probe_once(self, targets: Iterable[CameraTarget] | None = None) -> list[ProbeResult]:
        """Probe the given cameras (default: all) right now, concurrently within the runner's bound."""
        chosen = list(self.plan.targets if targets is None else targets)
        return list(await asyncio.gather(*(self._probe_and_record(t) for t in chosen)))

    async def run(self, stop: asyncio.Event) -> None:
        """Probe cameras as they come due until `stop` is set, then wait for probes in flight."""
        while not stop.is_set():
            for target in self.plan.due(self.clock()):
                if target.camera_id in self._in_flight:
                    # Still probing from last time (the deadline is shorter than any
                    # sane interval, so this means an interval set too short).
                    self.skipped += 1
                    self.metrics.probes_skipped.inc()
                    log.warning("probe_skipped_still_running", camera_id=target.camera_id)
                    continue
                task = asyncio.create_task(self._probe_and_record(target), name=f"probe-{target.camera_id}")
                self._in_flight[target.camera_id] = task
                task.add_done_callback(partial(self._forget, target.camera_id))
            next_due = self.plan.next_due()
            wait = 1.0 if next_due is None else min(1.0, max(0.0, next_due - self.clock()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(wait, 0.01))
        if self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def _forget(self, camera_id: str, _task: asyncio.Task[ProbeResult]) -> None:
        self._in_flight.pop(camera_id, None)

    async def _probe_and_record(self, target: CameraTarget) -> ProbeResult:
        result = await self.runner.probe(target)
        await self._record(result)
        return result

    async def _record(self, result: ProbeResult) -> None:
        self.latest[result.camera_id] = result
        if self._on_result is not None:
            outcome = self._on_result(result)
            if inspect.isawaitable(outcome):
                await outcome
