"""The gateway's Prometheus metrics count what the runner, scheduler and publisher did.

`--metrics-port` serves them.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError
from kafka.future import Future
from prometheus_client import CollectorRegistry

from tests.unit.video import fakes
from tests.unit.video.polling import until
from video_gateway import cli
from video_gateway.config import ProbeConfig
from video_gateway.metrics import VideoMetrics
from video_gateway.probe import CameraTarget, ProbeResult
from video_gateway.publisher import VideoPublisher
from video_gateway.runner import ProbeRunner
from video_gateway.scheduler import Scheduler


def _targets(n: int, node: str = "VN440100", prefix: str = "C") -> list[CameraTarget]:
    return [CameraTarget(f"{prefix}{i:03d}", node, f"rtsp://10.0.0.{i}/ch1") for i in range(n)]


def _value(metrics: VideoMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_probes_are_counted_by_status_with_the_deadline_kill_and_the_worker_restart() -> None:
    """One hung camera and three healthy ones: three `ok`, one `offline`, one kill, one restart, four durations."""
    metrics = VideoMetrics(CollectorRegistry())
    config = ProbeConfig(open_timeout_s=0.5, read_timeout_s=0.2, deadline_slack_s=0.0, concurrency=2)
    targets = [*_targets(2), *_targets(2, "VN440300", prefix="D")]
    async with ProbeRunner(config, fakes.hangs_on_c000, metrics=metrics) as runner:
        scheduler = Scheduler(targets, runner, metrics=metrics)
        results = await scheduler.probe_once()
    assert sorted(r.status for r in results) == ["offline", "ok", "ok", "ok"]
    assert _value(metrics, "govpulse_video_probes_total", status="ok") == 3
    assert _value(metrics, "govpulse_video_probes_total", status="offline") == 1
    assert _value(metrics, "govpulse_video_probe_deadline_kills_total") == 1
    assert _value(metrics, "govpulse_video_probe_worker_restarts_total") == 1
    assert _value(metrics, "govpulse_video_probe_seconds_count") == 4
    # Three fake probes of 0.1 s plus the hung one, cut at its 1.1 s deadline.
    assert _value(metrics, "govpulse_video_probe_seconds_sum") >= 0.3 + 1.1
    assert _value(metrics, "govpulse_video_probe_wait_seconds_count") == 4
    assert _value(metrics, "govpulse_video_cameras") == 4
    assert _value(metrics, "govpulse_video_nodes") == 2


class _SlowRunner:
    """In-process stand-in for ProbeRunner: every probe waits until the test releases it."""

    def __init__(self, config: ProbeConfig) -> None:
        self.config = config
        self.release = asyncio.Event()
        self.started: list[str] = []

    async def probe(self, target: CameraTarget) -> ProbeResult:
        self.started.append(target.camera_id)
        await self.release.wait()
        return fakes.ok_result(target)


async def test_camera_still_being_probed_when_due_again_counts_as_skipped() -> None:
    """An interval shorter than the probes shows up as skipped probes, not as a second probe of the same camera."""
    metrics = VideoMetrics(CollectorRegistry())
    runner = _SlowRunner(ProbeConfig(interval_s=0.05))
    scheduler = Scheduler(_targets(3), runner, metrics=metrics)  # type: ignore[arg-type]  # duck-typed runner
    stop = asyncio.Event()
    task = asyncio.create_task(scheduler.run(stop))
    await until(lambda: scheduler.skipped >= 3, timeout_s=10, every_s=0.02)
    runner.release.set()
    stop.set()
    await task
    assert scheduler.skipped >= 3 and sorted(runner.started) == ["C000", "C001", "C002"]
    assert _value(metrics, "govpulse_video_probes_skipped_total") == scheduler.skipped


class _FutureSender:
    """Hands back kafka-python futures, as the SDK does, for the test to resolve like the broker would."""

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def send(self, stream: str, events: Any, batch_id: str | None = None) -> list[Any]:
        self.futures.append(Future())
        return [self.futures[-1]]

    def flush(self, timeout_s: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass


class _RefusingSender(_FutureSender):
    def send(self, stream: str, events: Any, batch_id: str | None = None) -> list[Any]:
        raise KafkaTimeoutError("Failed to update metadata after 60.0 secs.")


def _heartbeat(node_id: str) -> dict[str, Any]:
    return {
        "type": "node_heartbeat",
        "node_id": node_id,
        "cameras_total": 1,
        "cameras_online": 1,
        "version": "t",
        "interval_s": 60,
    }


def test_batches_count_as_published_when_acknowledged_and_as_failed_when_the_broker_gives_up() -> None:
    """A batch counts once the broker acknowledges it; a batch the broker never takes counts its events as failed."""
    metrics = VideoMetrics(CollectorRegistry())
    senders: dict[str, _FutureSender] = {}
    sources = {"VN440100": ("node-4401", 4401), "VN440300": ("node-4403", 4403)}
    publisher = VideoPublisher(
        sources, lambda source, _city: senders.setdefault(source, _FutureSender()), metrics=metrics
    )
    for target in [*_targets(2), *_targets(1, "VN440300", prefix="D")]:
        publisher.add_result(fakes.ok_result(target))
    publisher.add_heartbeats([_heartbeat("VN440100"), _heartbeat("VN440300")])
    assert publisher.flush() == 5
    # Queued is not published: nothing counts before the broker answers.
    assert _value(metrics, "govpulse_video_batches_published_total") == 0
    senders["node-4401"].futures[0].success("metadata")
    senders["node-4403"].futures[0].failure(KafkaTimeoutError("Batch expired"))
    assert _value(metrics, "govpulse_video_batches_published_total") == 1
    assert _value(metrics, "govpulse_video_batches_failed_total") == 1
    assert _value(metrics, "govpulse_video_events_published_total", type="camera_probe") == 2
    assert _value(metrics, "govpulse_video_events_published_total", type="node_heartbeat") == 1
    assert _value(metrics, "govpulse_video_events_failed_total", type="camera_probe") == 1
    assert _value(metrics, "govpulse_video_events_failed_total", type="node_heartbeat") == 1


def test_batch_the_producer_refuses_is_counted_and_the_error_still_raised() -> None:
    """A send that raises (no broker metadata) counts as a failed batch and keeps its events pending."""
    metrics = VideoMetrics(CollectorRegistry())
    publisher = VideoPublisher({"VN440100": ("node-4401", 4401)}, lambda _s, _c: _RefusingSender(), metrics=metrics)
    publisher.add_heartbeats([_heartbeat("VN440100")])
    with pytest.raises(KafkaTimeoutError):
        publisher.flush()
    assert publisher.pending == 1
    assert _value(metrics, "govpulse_video_batches_failed_total") == 1
    assert _value(metrics, "govpulse_video_events_failed_total", type="node_heartbeat") == 1


def _gateway_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="cmd"))
    return parser.parse_args(["video-gateway", "--cameras", "cams.csv", *argv])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


async def test_metrics_port_serves_the_probe_counts_on_get_metrics_until_the_gateway_stops() -> None:
    """`--metrics-port` serves Prometheus text with the probe counter on loopback, and the port closes afterwards."""
    port = _free_port()
    args = _gateway_args("--metrics-port", str(port))
    assert args.metrics_host == "127.0.0.1"
    metrics = VideoMetrics(CollectorRegistry())
    metrics.probes.labels("blur").inc()
    loop = asyncio.get_running_loop()
    url = f"http://127.0.0.1:{port}/metrics"
    async with cli._metrics_server(args, metrics) as address:
        assert address == ("127.0.0.1", port)
        # The server runs on this loop, so the blocking client goes to a thread.
        status, content_type, body = await loop.run_in_executor(None, _get, url)
    assert status == 200 and content_type.startswith("text/plain")
    assert 'govpulse_video_probes_total{status="blur"} 1.0' in body
    with pytest.raises(urllib.error.URLError):
        await loop.run_in_executor(None, _get, url)


async def test_metrics_server_is_on_by_default_and_off_with_port_0_or_once() -> None:
    """The default is port 9108; `--metrics-port 0` and `--once` start no server."""
    assert _gateway_args().metrics_port == cli.DEFAULT_METRICS_PORT == 9108
    metrics = VideoMetrics(CollectorRegistry())
    for argv in (["--metrics-port", "0"], ["--once"]):
        async with cli._metrics_server(_gateway_args(*argv), metrics) as address:
            assert address is None
    with pytest.raises(SystemExit):
        _gateway_args("--metrics-port", "70000")
