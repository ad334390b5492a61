"""Run probes in a pool of worker processes, each probe under a hard deadline.

Why processes and not threads: OpenCV's FFmpeg backend holds one global
lock while it opens a stream (measured with opencv-python-headless 5.0: three
silent cameras opened from three threads with a 2 s open timeout ended at
2, 4 and 6 s, and a healthy camera started alongside waited 6 s behind
them). Within one process every open queues behind the slowest camera, so
each worker process runs one probe at a time and `concurrency` is the
number of workers.

The deadline (`config.deadline_s()`) is a hard guard on top of FFmpeg's own
timeouts, which do not cover everything (name resolution, a wedged
decoder): past it the worker is killed and replaced, and the camera is
reported `offline`. Nothing a camera does can hold a worker longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from video_gateway.config import ProbeConfig
from video_gateway.metrics import VideoMetrics
from video_gateway.probe import CameraTarget, ProbeResult, failed, probe_camera

log = structlog.get_logger("govpulse.video_gateway")

ProbeFn = Callable[[CameraTarget, ProbeConfig], ProbeResult]
#: Spawned, not forked: the parent runs an event loop and Kafka client threads,
#: which a fork would copy in whatever state they are in.
_CONTEXT = multiprocessing.get_context("spawn")
#: Importing OpenCV and numpy in a fresh interpreter takes ~0.5 s; a loaded host may need far more.
_START_TIMEOUT_S = 60.0


def _worker_main(conn: multiprocessing.connection.Connection, config_data: dict[str, Any], probe_fn: ProbeFn) -> None:
    import cv2

    # One probe per process: OpenCV's own thread pool would only compete with the other workers.
    cv2.setNumThreads(1)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    config = ProbeConfig.model_validate(config_data)
    # Tell the parent the imports are done, so the first probe's clock does not include them.
    conn.send("ready")
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        target = CameraTarget(*request)
        started, probed_at = time.monotonic(), datetime.now(UTC)
        try:
            result = probe_fn(target, config)
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the worker or leave the parent waiting
            result = failed(target, "no_signal", f"probe error: {exc!r}", probed_at, started)
        conn.send(asdict(result))


class _Worker:
    def __init__(self, config: ProbeConfig, probe_fn: ProbeFn) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(
            target=_worker_main,
            args=(child, config.model_dump(mode="json"), probe_fn),
            daemon=True,
            name="probe-worker",
        )
        self.process.start()
        child.close()
        # Blocking, but run in an executor by ProbeRunner; a worker that cannot start is a broken install.
        if not self.conn.poll(_START_TIMEOUT_S) or self.conn.recv() != "ready":
            self.kill()
            raise RuntimeError(f"probe worker did not start within {_START_TIMEOUT_S:g} s")

    async def probe(self, target: CameraTarget, deadline_s: float) -> ProbeResult:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        fd = self.conn.fileno()

        def wake() -> None:
            # The pipe stays readable until recv(), so this can run more than once.
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(fd, wake)
        try:
            self.conn.send((target.camera_id, target.node_id, target.url))
            await asyncio.wait_for(ready, deadline_s)
            data = self.conn.recv()
        finally:
            loop.remove_reader(fd)
        return ProbeResult(**data)

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError, BrokenPipeError):
            self.conn.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.kill()
        else:
            self.conn.close()


class ProbeRunner:
    """Bounded, deadline-guarded probing for an asyncio caller. Use as an async context manager."""

    def __init__(
        self, config: ProbeConfig, probe_fn: ProbeFn = probe_camera, *, metrics: VideoMetrics | None = None
    ) -> None:
        self.config = config
        self._probe_fn = probe_fn
        self.metrics = metrics or VideoMetrics(CollectorRegistry())
        self._idle: asyncio.Queue[_Worker] | None = None
        self._workers: list[_Worker] = []
        self.killed = 0

    @property
    def worker_pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process.pid is not None]

    async def start(self) -> None:
        await self._started()

    async def _started(self) -> asyncio.Queue[_Worker]:
        """The queue of idle workers, started on first use."""
        if self._idle is not None:
            return self._idle
        # Set before the workers exist, so that a probe arriving meanwhile waits in the queue.
        idle = self._idle = asyncio.Queue()
        loop = asyncio.get_running_loop()
        # Starting a worker imports OpenCV (a few hundred ms); start them side by side.
        workers = await asyncio.gather(
            *(loop.run_in_executor(None, _Worker, self.config, self._probe_fn) for _ in range(self.config.concurrency))
        )
        for worker in workers:
            self._workers.append(worker)
            idle.put_nowait(worker)
        return idle

    async def stop(self) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, w.stop) for w in self._workers))
        self._workers.clear()
        self._idle = None

    async def __aenter__(self) -> ProbeRunner:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def probe(self, target: CameraTarget) -> ProbeResult:
        idle = await self._started()
        queued = time.monotonic()
        worker = await idle.get()
        probed_at, started = datetime.now(UTC), time.monotonic()
        self.metrics.probe_wait_seconds.observe(started - queued)
        deadline = self.config.deadline_s()
        try:
            result = await worker.probe(target, deadline)
        except (TimeoutError, EOFError, OSError) as exc:
            timed_out = isinstance(exc, TimeoutError)
            if timed_out:
                self.metrics.deadline_kills.inc()
            worker = await self._replace(worker)
            why = f"no answer within the {deadline:g} s probe deadline" if timed_out else f"probe worker died: {exc!r}"
            log.warning("probe_worker_replaced", camera_id=target.camera_id, reason=why)
            result = failed(target, "offline", why, probed_at, started)
        finally:
            idle.put_nowait(worker)
        self.metrics.probes.labels(result.status).inc()
        self.metrics.probe_seconds.observe(result.duration_s)
        return result

    async def _replace(self, worker: _Worker) -> _Worker:
        self.killed += 1
        self.metrics.worker_restarts.inc()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, worker.kill)
        fresh = await loop.run_in_executor(None, _Worker, self.config, self._probe_fn)
        self._workers[self._workers.index(worker)] = fresh
        return fresh
