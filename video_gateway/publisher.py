"""Probe results and node heartbeats onto the `video` stream, through the city-node SDK.

Events are buffered and flushed as one batch per source, so a busy gateway
sends a message every few seconds per city rather than one per camera.
Each event is sent under the data source of the camera's city (the worker
rejects a record whose camera belongs to another city than its sender).
`seq` counts per source within this process, and `event_id` carries a run
id so a restarted gateway never reuses an id.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from video_gateway.probe import ProbeResult

STREAM = "video"
#: Data sources in the generated registry are `node-<city code>`; deployments
#: that give the gateway its own sources (so its `seq` does not interleave
#: with a city uploader's) set another format.
DEFAULT_SOURCE_FORMAT = "node-{city_code}"


class BatchSender(Protocol):
    """What the publisher needs from connectors.sdk.CityNodeProducer."""

    def send(self, stream: str, events: Iterable[dict[str, Any]], batch_id: str | None = None) -> list[Any]: ...

    def flush(self, timeout_s: float | None = None) -> None: ...

    def close(self) -> None: ...


SenderFactory = Callable[[str, int], BatchSender]


def sdk_sender_factory(bootstrap_servers: str, **kafka_options: Any) -> SenderFactory:
    """One SDK producer per source, as the SDK is built (source and city key are per producer)."""
    from connectors.sdk import CityNodeProducer

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
    ) -> None:
        """`node_sources` maps a video node id to (source id, city code)."""
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
            sender.send(STREAM, events)
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


def node_sources(registry: Any, source_format: str = DEFAULT_SOURCE_FORMAT) -> dict[str, tuple[str, int]]:
    """(source id, city code) for every video node of a streams.registry Registry.

    Fails early, naming the node, when the registry has no such source: the
    worker would reject every one of its events as `unknown_entity`.
    """
    out = {}
    for node in registry.entities("node"):
        source = source_format.format(city_code=node.city_code, node_id=node.node_id)
        if registry.source(source) is None:
            raise ValueError(f"video node {node.node_id}: data source {source!r} is not in the registry")
        out[node.node_id] = (source, node.city_code)
    return out
