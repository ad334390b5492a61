"""The org registry on a compacted topic: publish it, and follow it.

Every process that validates (worker, gateway) follows the topic from the
start: it first replays it to the end, then keeps applying updates, so a
hall added by an import is known everywhere within moments, without restart.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

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
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(REGISTRY_TOPIC, p) for p in (consumer.partitions_for_topic(REGISTRY_TOPIC) or {0})]
        ends = await consumer.end_offsets(tps)
        starts = await consumer.beginning_offsets(tps)
        return all(ends[tp] <= starts[tp] for tp in tps)
    finally:
        await consumer.stop()


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

    async def start(self, timeout_s: float = 60.0) -> None:
        """Replay the topic to its end, then follow it in the background."""
        self._task = asyncio.create_task(self._run(), name="registry-follower")
        ready = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        if self._task in done:
            self._task.result()  # re-raise why it stopped
        if ready not in done:
            ready.cancel()
            raise TimeoutError(f"registry topic not replayed within {timeout_s}s")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            tps = [TopicPartition(REGISTRY_TOPIC, p) for p in (consumer.partitions_for_topic(REGISTRY_TOPIC) or {0})]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            remaining = {tp for tp in tps if ends[tp] > 0}
            if not remaining:
                self._mark_ready()
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for tp, messages in batches.items():
                    for msg in messages:
                        self._apply(msg.key, msg.value)
                    if tp in remaining and messages and messages[-1].offset + 1 >= ends[tp]:
                        remaining.discard(tp)
                if remaining == set() and not self.ready.is_set():
                    self._mark_ready()
                elif batches and self.ready.is_set() and self.on_change is not None:
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
