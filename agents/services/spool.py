"""The gateway's durable spool in embedded mode: opened (and what it holds sent again) at start, released as stored.

The embedded broker forgets everything when the process ends, so a batch the
gateway answered 202 for lives in the spool (connectors/gateway/spool.py)
until the worker's consumer group has committed past it. At start the
batches still held are sent to the (new, empty) broker again, before the
gateway takes new ones; the worker's event-id idempotence keeps a batch
stored twice from counting twice.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from agents.services.base import running, stop_step
from agents.services.children import EmbeddedChildren
from agents.services.kafka import KafkaProducer
from agents.settings import Settings
from connectors.gateway.spool import Spool
from streams.metrics import Metrics

log = structlog.get_logger(__name__)

#: How often the spool asks the broker what the worker has committed.
RELEASE_EVERY_S = 1.0


class GatewaySpool:
    name = "spool"

    def __init__(self, settings: Settings, children: EmbeddedChildren, producer: KafkaProducer, metrics: Metrics):
        self.settings = settings
        self.children = children
        self.producer = producer
        self.metrics = metrics
        self._spool: Spool | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def spool(self) -> Spool:
        return running(self._spool, "the gateway's spool")

    async def start(self) -> None:
        s = self.settings
        spool = Spool(s.spool_path, s.spool_max_bytes)
        held = await spool.open()  # SpoolCorrupt stops the start: nothing is accepted on top of a bad spool
        self._spool = spool
        kafka = self.producer.producer
        for batch in held:
            meta = await kafka.send_and_wait(batch.topic, value=batch.value, key=batch.key, headers=batch.headers)
            await spool.placed(batch.id, meta.partition, meta.offset)
        if held:
            # After a clean stop the spool is empty: batches held now were cut off by a crash or a kill.
            log.warning("spool_resent", batches=len(held), bytes=spool.size_bytes)
        # Reads the worker group's committed offsets only: it never joins the group.
        self._offsets = AIOKafkaConsumer(
            bootstrap_servers=self.children.bootstrap, group_id=s.consumer_group, enable_auto_commit=False
        )
        await self._offsets.start()
        self._gauge()
        self._task = asyncio.create_task(self._release_forever(), name="spool-release")

    async def release(self) -> int:
        """Let go of every held batch the worker has committed past; how many."""
        spool, offsets = self.spool, running(self._offsets, "the spool's offset reader")
        released = 0
        for topic, partition in await spool.placements():
            committed = await offsets.committed(TopicPartition(topic, partition))
            if committed is not None and committed > 0:
                released += await spool.release(topic, partition, committed)
        self._gauge()
        return released

    async def _release_forever(self) -> None:
        while True:
            await asyncio.sleep(RELEASE_EVERY_S)
            try:
                await self.release()
            except Exception as exc:  # noqa: BLE001 - a broker hiccup only delays the release; the next round retries
                log.warning("spool_release_failed", error=str(exc)[:300])

    def _gauge(self) -> None:
        if self._spool is not None:
            self.metrics.spool_bytes.set(self._spool.size_bytes)
            self.metrics.spool_batches.set(self._spool.rows)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._spool is not None and self._offsets is not None:
            # Stopped after the worker, whose last commit lets the batches it stored go now, not resent next start.
            await stop_step("spool release", self.release)
        if self._offsets is not None:
            await stop_step("spool offset reader", self._offsets.stop)
        if self._spool is not None:
            await stop_step(self.name, self._spool.close)
