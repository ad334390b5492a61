"""Run probes off the event loop, at most `concurrency` at a time, each under a hard deadline.

FFmpeg's own timeouts end almost every hang (see probe.py), but not all of
them (name resolution, a decoder wedged on a broken stream). So each probe
runs in its own daemon thread and the caller waits at most
`config.deadline_s()`: past that, the camera is reported `offline` and the
thread is abandoned. An abandoned thread frees its concurrency slot at once,
so healthy cameras never queue behind a hung one; while it lives, that
camera is not probed again (one stuck thread per camera at most), and it is
counted in `stuck`, for metrics and logs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from video_gateway.config import ProbeConfig
from video_gateway.probe import CameraTarget, ProbeResult, failed, probe_camera

log = structlog.get_logger("govpulse.video_gateway")

ProbeFn = Callable[[CameraTarget, ProbeConfig], ProbeResult]


class ProbeRunner:
    """Bounded, deadline-guarded probing for an asyncio caller."""

    def __init__(self, config: ProbeConfig, probe_fn: ProbeFn = probe_camera) -> None:
        self.config = config
        self._probe_fn = probe_fn
        self._slots = asyncio.Semaphore(config.concurrency)
        self._stuck: dict[str, threading.Thread] = {}

    @property
    def stuck(self) -> int:
        """Abandoned probe threads still running."""
        self._forget_finished()
        return len(self._stuck)

    async def probe(self, target: CameraTarget) -> ProbeResult:
        self._forget_finished()
        if target.camera_id in self._stuck:
            return failed(
                target, "offline", "previous probe still has not returned", datetime.now(UTC), time.monotonic()
            )
        async with self._slots:
            return await self._run(target)

    async def _run(self, target: CameraTarget) -> ProbeResult:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[ProbeResult] = loop.create_future()
        probed_at, started = datetime.now(UTC), time.monotonic()

        def work() -> None:
            try:
                result = self._probe_fn(target, self.config)
            except Exception as exc:  # a bug must not leave the caller waiting for the deadline
                result = failed(target, "no_signal", f"probe error: {exc!r}", probed_at, started)
            try:
                loop.call_soon_threadsafe(_settle, done, result)
            except RuntimeError:
                pass  # the loop closed while this thread was stuck: nobody is waiting

        thread = threading.Thread(target=work, name=f"probe-{target.camera_id}", daemon=True)
        thread.start()
        deadline = self.config.deadline_s()
        try:
            return await asyncio.wait_for(asyncio.shield(done), deadline)
        except TimeoutError:
            self._stuck[target.camera_id] = thread
            log.warning("probe_abandoned", camera_id=target.camera_id, deadline_s=deadline, stuck=len(self._stuck))
            return failed(target, "offline", f"no answer within the {deadline:g} s probe deadline", probed_at, started)

    def _forget_finished(self) -> None:
        for camera_id in [c for c, t in self._stuck.items() if not t.is_alive()]:
            del self._stuck[camera_id]


def _settle(future: asyncio.Future[ProbeResult], result: ProbeResult) -> None:
    if not future.done():
        future.set_result(result)
