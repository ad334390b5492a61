"""Probe results and node heartbeats onto the `video` stream, through the city-node SDK.

Events are buffered and flushed as one batch per source, so a busy gateway
sends a message every few seconds per city rather than one per camera.
Each event is sent under the data source of the camera's city (the worker
rejects a record whose camera belongs to another city than its sender).
`seq` counts per source within this process, and `event_id` carries a run
id so a restarted gateway never reuses an id.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from prometheus_client import CollectorRegistry

from video_gateway.metrics import VideoMetrics
from video_gateway.probe import ProbeResult

log = structlog.get_logger("govpulse.video_gateway")

STREAM = "video"
#: Data sources in the generated registry are `node-<city code>`; deployments
#: that give the gateway its own sources (so its `seq` does not interleave
#: with a city uploader's) set another format.
DEFAULT_SOURCE_FORMAT = "node-{city_code}"


class BatchSender(Protocol):
    """What the publisher needs from connectors.kafka.sdk.CityNodeProducer."""

    def send(self, stream: str, events: Iterable[dict[str, Any]], batch_id: str | None = None) -> list[Any]:
        """Queue one batch; returns futures with kafka-python's add_callback/add_errback (none when already done)."""
        ...

    def flush(self, timeout_s: float | None = None) -> None: ...

    def close(self) -> None: ...


SenderFactory = Callable[[str, int], BatchSender]


def sdk_sender_factory(bootstrap_servers: str, **kafka_options: Any) -> SenderFactory:
    """One SDK producer per source, as the SDK is built (source and city key are per producer)."""
    from connectors.kafka.sdk import CityNodeProducer

    def make(source: str, city_code: int) -> BatchSender:
        return CityNodeProducer(bootstrap_servers, source, city_code, **kafka_options)

    return make


class VideoPublisher:
    """Buffers video events per source and sends each source's buffer as one batch."""

    def __init__(
        self,
        node_sources: Mapping[str, tuple[str, int]],
        sender_factory: SenderFactory,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        metrics: VideoMetrics | None = None,
    ) -> None:
        """`node_sources` maps a video node id to (source id, city code)."""
        self.metrics = metrics or VideoMetrics(CollectorRegistry())
        self._node_sources = dict(node_sources)
        self._factory = sender_factory
        self._senders: dict[str, BatchSender] = {}
        self._clock = clock
        self._run_id = uuid.uuid4().hex[:10]
        self._seq: dict[str, int] = defaultdict(int)
        self._pending: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._city_of_source = {source: city for source, city in self._node_sources.values()}

    @property
    def pending(self) -> int:
        return sum(len(events) for events in self._pending.values())

    def add_result(self, result: ProbeResult) -> None:
        self._add(result.node_id, result.probed_at, result.event_fields())

    def add_heartbeats(self, heartbeats: Iterable[dict[str, Any]], occurred_at: datetime | None = None) -> None:
        at = occurred_at or self._clock()
        for fields in heartbeats:
            self._add(fields["node_id"], at, fields)

    def flush(self) -> int:
        """Send every buffered event, one batch per source; returns how many were sent."""
        sent = 0
        sent_at = self._clock().isoformat()
        for source, events in list(self._pending.items()):
            if not events:
                continue
            for event in events:
                event["sent_at"] = sent_at
            sender = self._senders.get(source)
            if sender is None:
                sender = self._senders[source] = self._factory(source, self._city_of_source[source])
            outcome = _BatchOutcome(self.metrics, source, Counter(e["type"] for e in events))
            try:
                futures = sender.send(STREAM, events)
            except Exception as exc:
                # Counted, then raised as before: the events stay pending for close() to retry.
                outcome.failed(exc)
                raise
            outcome.track(futures)
            sent += len(events)
            self._pending[source] = []
        return sent

    def close(self, timeout_s: float | None = 30.0) -> None:
        """Send what is left, wait for the broker, close the producers."""
        self.flush()
        for sender in self._senders.values():
            sender.flush(timeout_s)
            sender.close()
        self._senders.clear()

    def _add(self, node_id: str, occurred_at: datetime, fields: dict[str, Any]) -> None:
        try:
            source, _ = self._node_sources[node_id]
        except KeyError:
            raise KeyError(f"video node {node_id!r} has no data source; is it in the registry?") from None
        self._seq[source] += 1
        seq = self._seq[source]
        event = {
            "event_id": f"{source}-vg{self._run_id}-{seq}",
            "source": source,
            "seq": seq,
            "occurred_at": occurred_at.astimezone(UTC).isoformat(),
            "sent_at": None,  # stamped when the batch leaves
        }
        event.update(fields)
        self._pending[source].append(event)


class _BatchOutcome:
    """Counts one source's batch as published once the broker acknowledged all its parts, or failed at the first error.

    kafka-python runs the callbacks on its I/O thread, or at once on the
    caller's thread when the future is already done; hence the lock.
    """

    def __init__(self, metrics: VideoMetrics, source: str, types: Counter[str]) -> None:
        self._metrics, self._source, self._types = metrics, source, types
        self._lock = threading.Lock()
        self._parts_left = 0
        self._settled = False

    def track(self, futures: list[Any]) -> None:
        pending = [f for f in futures if hasattr(f, "add_callback")]
        if not pending:
            # Nothing to wait for (the dry run prints at once).
            self._settled = True
            self._count_published()
            return
        self._parts_left = len(pending)
        for future in pending:
            future.add_callback(self._acked)
            future.add_errback(self.failed)

    def _acked(self, _metadata: Any) -> None:
        with self._lock:
            if self._settled:
                return
            self._parts_left -= 1
            if self._parts_left > 0:
                return
            self._settled = True
        self._count_published()

    def _count_published(self) -> None:
        self._metrics.batches_published.inc()
        for event_type, count in self._types.items():
            self._metrics.events_published.labels(event_type).inc(count)

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._settled:
                return
            self._settled = True
        self._metrics.batches_failed.inc()
        for event_type, count in self._types.items():
            self._metrics.events_failed.labels(event_type).inc(count)
        log.warning("video_batch_failed", source=self._source, events=sum(self._types.values()), error=repr(exc))


def node_sources(registry: Any, source_format: str = DEFAULT_SOURCE_FORMAT) -> dict[str, tuple[str, int]]:
    """(source id, city code) for every video node of a streams.registry Registry.

    Fails early, naming the node, when the registry has no such source: the
    worker would reject every one of its events as `unknown_entity`.
    """
    out = {}
    for node in registry.nodes():
        source = source_format.format(city_code=node.city_code, node_id=node.node_id)
        if registry.source(source) is None:
            raise ValueError(f"video node {node.node_id}: data source {source!r} is not in the registry")
        out[node.node_id] = (source, node.city_code)
    return out
