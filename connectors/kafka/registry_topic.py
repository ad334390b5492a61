"""The org registry on a compacted topic: publish it, and follow it.

Every process that validates (worker, gateway) follows the topic from the
start: it first replays it to the end, then keeps applying updates, so a
hall added by an import is known everywhere within moments, without restart.
"The end" is a marker the follower writes and waits for (`connectors.kafka.markers`),
never the broker's end offset, which the embedded broker under-reports.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaProducer, TopicPartition

from connectors.kafka import markers
from connectors.kafka.topics import REGISTRY_TOPIC, send_all
from streams.metrics import Metrics
from streams.registry import InvalidRow, Registry, topic_key

log = structlog.get_logger(__name__)


async def publish(registry: Registry, producer: AIOKafkaProducer) -> int:
    """Send every entity as one message keyed `kind:key`; returns the count."""
    items = [
        (topic_key(kind, key).encode(), json.dumps(row, ensure_ascii=False).encode())
        for kind, key, row in registry.to_rows()
    ]
    await send_all(producer, REGISTRY_TOPIC, items)
    log.info("registry_published", messages=len(items), **registry.counts())
    return len(items)


async def topic_is_empty(bootstrap: str) -> bool:
    """True when the registry topic holds no entity yet (markers aside): it is to be seeded."""
    return await markers.topic_is_empty(bootstrap, REGISTRY_TOPIC)


class RegistryFollower:
    """Keeps a Registry in step with the registry topic."""

    def __init__(
        self,
        bootstrap: str,
        registry: Registry,
        metrics: Metrics,
        on_change: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.registry = registry
        self.metrics = metrics
        self.on_change = on_change
        self.ready = asyncio.Event()
        self.applied = 0
        self._task: asyncio.Task[None] | None = None
        self._marker: markers.MarkerWait | None = None

    async def start(self, timeout_s: float = 60.0) -> None:
        """Replay the topic to its end, then follow it in the background."""
        self._task = asyncio.create_task(self._run(), name="registry-follower")
        ready = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            self._task.result()  # re-raise why it stopped
        if ready not in done:
            ready.cancel()
            waiting = (
                "its marker not written yet" if self._marker is None else f"partitions {sorted(self._marker.pending)}"
            )
            raise TimeoutError(
                f"registry topic not replayed within {timeout_s}s ({waiting}; {self.applied} messages applied)"
            )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        consumer = markers.reading_consumer(self.bootstrap)
        await consumer.start()
        try:
            partitions = await markers.topic_partitions(consumer, REGISTRY_TOPIC)
            tps = [TopicPartition(REGISTRY_TOPIC, p) for p in partitions]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            # Replayed to the end = our own marker read back on every partition.
            marker = self._marker = await markers.place_markers(self.bootstrap, REGISTRY_TOPIC, partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                changed = False
                for tp, messages in batches.items():
                    for msg in messages:
                        marker.observe(tp.partition, msg.key)
                        if not markers.is_marker(msg.key):  # Registry.apply would refuse one as an unknown kind
                            self._apply(msg.key, msg.value)
                            changed = True
                if not self.ready.is_set():
                    if marker.done:
                        self._mark_ready()
                elif changed and self.on_change is not None:
                    await self.on_change()
        finally:
            await consumer.stop()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        try:
            row = None if value is None else json.loads(value)
            self.registry.apply((key or b"").decode(), row)
            self.applied += 1
        except (InvalidRow, ValueError) as exc:
            # A bad registry row must not stop the follower: the rest still applies.
            log.warning(
                "registry_row_rejected", key=(key or b"")[:100].decode("utf-8", "replace"), error=str(exc)[:300]
            )

    def _mark_ready(self) -> None:
        for kind, count in self.registry.counts().items():
            self.metrics.registry_entities.labels(kind).set(count)
        log.info("registry_ready", applied=self.applied, **self.registry.counts())
        self.ready.set()


async def read_registry(bootstrap: str, metrics: Metrics | None = None) -> Registry:
    """The registry as the topic holds it now, replayed once (for commands that run and exit)."""
    from prometheus_client import CollectorRegistry

    registry = Registry()
    follower = RegistryFollower(bootstrap, registry, metrics or Metrics(CollectorRegistry()))
    await follower.start()
    await follower.stop()
    return registry
