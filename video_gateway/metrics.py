"""Every Prometheus metric the video gateway exports, created in one place.

The registry is passed in so each test can build its own and read exact
values. Spawned probe workers import this module through runner.py, so the
HTTP server's aiohttp import stays inside `serve_metrics`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: A live camera answers in ~0.5 s; the default hard deadline is 16 s.
_PROBE_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 16.0, 20.0, 30.0, 60.0)
#: Waiting for a free worker: ~0 while the pool keeps up, up to the interval when it does not.
_WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class VideoMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.probes = Counter(
            "govpulse_video_probes_total",
            "Camera probes finished, by status (ok, offline, no_signal, or a fault).",
            ["status"],
            registry=registry,
        )
        self.probe_seconds = Histogram(
            "govpulse_video_probe_seconds",
            "Duration of one camera probe (up to the hard deadline).",
            buckets=_PROBE_BUCKETS,
            registry=registry,
        )
        self.probe_wait_seconds = Histogram(
            "govpulse_video_probe_wait_seconds",
            "Time a due camera waited for a free probe worker; growing waits mean too few workers (concurrency).",
            buckets=_WAIT_BUCKETS,
            registry=registry,
        )
        self.deadline_kills = Counter(
            "govpulse_video_probe_deadline_kills_total",
            "Probes that passed the hard deadline; their worker was killed.",
            registry=registry,
        )
        self.worker_restarts = Counter(
            "govpulse_video_probe_worker_restarts_total",
            "Probe workers replaced, after a deadline kill or a crash.",
            registry=registry,
        )
        self.probes_skipped = Counter(
            "govpulse_video_probes_skipped_total",
            "Cameras due again while their previous probe was still running (interval_s set too short).",
            registry=registry,
        )
        self.cameras = Gauge("govpulse_video_cameras", "Cameras this gateway probes.", registry=registry)
        self.nodes = Gauge("govpulse_video_nodes", "Video nodes whose cameras this gateway probes.", registry=registry)
        self.events_published = Counter(
            "govpulse_video_events_published_total",
            "Events (camera_probe, node_heartbeat) in batches the broker acknowledged.",
            ["type"],
            registry=registry,
        )
        self.events_failed = Counter(
            "govpulse_video_events_failed_total",
            "Events in batches that failed to publish (they are lost).",
            ["type"],
            registry=registry,
        )
        self.batches_published = Counter(
            "govpulse_video_batches_published_total",
            "Batches (one per data source per flush) the broker acknowledged.",
            registry=registry,
        )
        self.batches_failed = Counter(
            "govpulse_video_batches_failed_total",
            "Batches the producer refused or the broker did not acknowledge.",
            registry=registry,
        )


@contextlib.asynccontextmanager
async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> AsyncIterator[tuple[str, int]]:
    """Serve GET /metrics on the running event loop until the block exits; yields the bound (host, port).

    aiohttp on the gateway's own loop rather than prometheus_client's
    start_http_server thread: the gateway already runs a loop and depends on
    aiohttp, and the server then starts and stops with the command, so a
    test or a restart never leaves a listening thread behind. Port 0 binds
    a free port (the CLI treats 0 as "off" before calling this).
    """
    from aiohttp import web
    from prometheus_client.aiohttp import make_aiohttp_handler

    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        bound = runner.addresses[0]
        yield str(bound[0]), int(bound[1])
    finally:
        await runner.cleanup()
