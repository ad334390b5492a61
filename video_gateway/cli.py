"""`govpulse video-gateway`: probe hall cameras on a schedule and publish results and node heartbeats.

`add_parser(subparsers)` adds the command to the govpulse CLI and `run(args)`
executes it. Kafka comes from GOVPULSE_KAFKA_DSN (a kafka:// DSN: the
embedded broker lives inside `govpulse up`, out of this process's reach);
`--dry-run` prints the events as JSON lines instead, and `--once` probes
every camera once and exits. Unless `--once`, Prometheus metrics are served
on `--metrics-host`:`--metrics-port` (GET /metrics).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog
from prometheus_client import CollectorRegistry

from video_gateway.config import ProbeConfig, load_config
from video_gateway.metrics import VideoMetrics, serve_metrics
from video_gateway.probe import CameraTarget, ProbeResult
from video_gateway.publisher import DEFAULT_SOURCE_FORMAT, BatchSender, VideoPublisher, node_sources, sdk_sender_factory
from video_gateway.runner import ProbeRunner
from video_gateway.scheduler import Scheduler
from video_gateway.targets import read_camera_file, select, targets_from_registry, targets_from_rows

log = structlog.get_logger("govpulse.video_gateway")

VERSION = "govpulse-video-gateway/0.1"
#: Buffered events leave at least this often: results reach the indicators
#: within seconds while a busy gateway still sends few, large batches.
PUBLISH_EVERY_S = 5.0
#: Next to node_exporter's 9100 and the other exporters' 91xx ports.
DEFAULT_METRICS_PORT = 9108


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "video-gateway", help="probe hall cameras (OpenCV) and publish probe results and node heartbeats"
    )
    p.add_argument("--config", type=Path, help="probe settings (YAML); GOVPULSE_VIDEO_* variables override it")
    p.add_argument(
        "--registry", type=Path, help="registry CSV directory; default: the registry topic of GOVPULSE_KAFKA_DSN"
    )
    p.add_argument(
        "--cameras",
        type=Path,
        help="camera file (CSV or YAML: camera_id, url[, node_id]) overriding or replacing registry URLs",
    )
    p.add_argument("--node", action="append", default=[], help="probe only this video node's cameras (repeatable)")
    p.add_argument(
        "--shard", default="0/1", help="i/n: probe the i-th of n stable slices of the cameras (one gateway per core)"
    )
    p.add_argument(
        "--source-format", default=DEFAULT_SOURCE_FORMAT, help="data source id per city, e.g. vgw-{city_code}"
    )
    p.add_argument("--once", action="store_true", help="probe every camera once, publish, exit")
    p.add_argument("--dry-run", action="store_true", help="print events as JSON lines instead of sending them to Kafka")
    p.add_argument(
        "--metrics-port",
        type=_port,
        default=DEFAULT_METRICS_PORT,
        metavar="PORT",
        help=f"serve Prometheus metrics on GET /metrics (default {DEFAULT_METRICS_PORT}; 0: off; never with --once)",
    )
    # Loopback by default: a host process should not expose an unauthenticated port. Containers set 0.0.0.0.
    p.add_argument("--metrics-host", default="127.0.0.1", help="address for --metrics-port (default 127.0.0.1)")
    return p


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a TCP port (0 turns metrics off)")
    return port


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        targets, registry = _targets(args)
    except (OSError, ValueError) as exc:
        print(f"video-gateway: {exc}", file=sys.stderr)
        return 2
    if not targets:
        print("video-gateway: no cameras to probe", file=sys.stderr)
        return 2
    return asyncio.run(_serve(args, config, targets, registry))


async def _registry_from_topic() -> Any:
    """The org registry as govpulse publishes it on the compacted `registry` topic (cameras, nodes, cities)."""
    from agents.settings import Settings
    from connectors.kafka.registry_topic import read_registry
    from connectors.kafka.topics import bootstrap_servers

    settings = Settings(roles="none")
    if settings.embedded_kafka:
        raise ValueError("give --registry, or GOVPULSE_KAFKA_DSN=kafka://host:port to read the registry topic")
    return await read_registry(bootstrap_servers(settings.kafka_dsn))


def _targets(args: argparse.Namespace) -> tuple[list[CameraTarget], Any]:
    index, _, count = args.shard.partition("/")
    shard = (int(index), int(count or 1))
    rows = read_camera_file(args.cameras) if args.cameras else []
    registry = None
    if args.registry:
        from streams.registry.csv_io import read_csv_dir

        registry = read_csv_dir(args.registry)
    elif not args.dry_run:
        registry = asyncio.run(_registry_from_topic())
    if registry is not None:
        targets = targets_from_registry(registry, rows)
    elif rows:
        targets = targets_from_rows(rows)
    else:
        raise ValueError("give --registry, --cameras, or both")
    return select(targets, nodes=args.node, shard=shard), registry


class _PrintSender:
    """--dry-run: the batch each source would send, one JSON line per event."""

    def send(self, stream: str, events: Any, batch_id: str | None = None) -> list[Any]:
        for event in events:
            print(json.dumps({"stream": stream, **event}, ensure_ascii=False), flush=True)
        return []

    def flush(self, timeout_s: float | None = None) -> None:
        sys.stdout.flush()

    def close(self) -> None:
        pass


def _publisher(
    args: argparse.Namespace, targets: list[CameraTarget], registry: Any, metrics: VideoMetrics
) -> VideoPublisher:
    if registry is not None:
        sources = node_sources(registry, args.source_format)
    else:
        # Dry run without a registry: label events by node, no city to key on.
        sources = {t.node_id: (t.node_id, 0) for t in targets}
    if args.dry_run:
        dry: BatchSender = _PrintSender()
        return VideoPublisher(sources, lambda _source, _city: dry, metrics=metrics)
    from agents.settings import Settings
    from connectors.kafka.topics import bootstrap_servers

    settings = Settings(roles="none")
    if settings.embedded_kafka:
        raise ValueError("publishing needs GOVPULSE_KAFKA_DSN=kafka://host:port (or --dry-run)")
    return VideoPublisher(sources, sdk_sender_factory(bootstrap_servers(settings.kafka_dsn)), metrics=metrics)


def _metrics_server(args: argparse.Namespace, metrics: VideoMetrics) -> contextlib.AbstractAsyncContextManager[Any]:
    """The /metrics server of a long-running gateway, yielding its address; a no-op yielding None otherwise.

    Not with --once: nothing would scrape it, and a gateway already serving
    on the port would make the one-off run fail.
    """
    if args.once or args.metrics_port == 0:
        return contextlib.nullcontext()
    return serve_metrics(metrics.registry, args.metrics_host, args.metrics_port)


async def _serve(args: argparse.Namespace, config: ProbeConfig, targets: list[CameraTarget], registry: Any) -> int:
    metrics = VideoMetrics(CollectorRegistry())
    try:
        publisher = _publisher(args, targets, registry, metrics)
    except ValueError as exc:
        print(f"video-gateway: {exc}", file=sys.stderr)
        return 2
    try:
        async with contextlib.AsyncExitStack() as stack:
            try:
                address = await stack.enter_async_context(_metrics_server(args, metrics))
            except OSError as exc:
                where = f"{args.metrics_host}:{args.metrics_port}"
                print(f"video-gateway: cannot serve metrics on {where}: {exc}", file=sys.stderr)
                return 2
            if address is not None:
                log.info("video_gateway_metrics", url=f"http://{address[0]}:{address[1]}/metrics")
            return await _probe(args, config, targets, publisher, metrics)
    finally:
        publisher.close()


async def _probe(
    args: argparse.Namespace,
    config: ProbeConfig,
    targets: list[CameraTarget],
    publisher: VideoPublisher,
    metrics: VideoMetrics,
) -> int:
    def record(result: ProbeResult) -> None:
        publisher.add_result(result)
        if not result.online or result.status != "ok":
            log.info("camera_fault", camera_id=result.camera_id, status=result.status, reason=result.reason)

    async with ProbeRunner(config, metrics=metrics) as runner:
        scheduler = Scheduler(targets, runner, on_result=record, metrics=metrics)
        log.info(
            "video_gateway_start",
            cameras=len(targets),
            nodes=len(scheduler.cameras_by_node()),
            workers=config.concurrency,
            interval_s=config.interval_s,
        )
        if args.once:
            await scheduler.probe_once()
            publisher.add_heartbeats(scheduler.heartbeats(VERSION))
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        probing = asyncio.create_task(scheduler.run(stop))
        await _tick(stop, publisher, scheduler, config)
        await probing
        return 0


async def _tick(stop: asyncio.Event, publisher: VideoPublisher, scheduler: Scheduler, config: ProbeConfig) -> None:
    """Flush results every few seconds and add heartbeats every heartbeat interval, until stopped."""
    loop = asyncio.get_running_loop()
    next_beat = loop.time() + config.heartbeat_interval_s
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=PUBLISH_EVERY_S)
        if loop.time() >= next_beat:
            publisher.add_heartbeats(scheduler.heartbeats(VERSION), datetime.now(UTC))
            next_beat += config.heartbeat_interval_s
        # The SDK's send only queues (kafka-python sends from its own thread).
        publisher.flush()
