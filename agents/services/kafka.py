"""Kafka: the topics, the stack's one producer, and the org registry read from (and first seeded onto) its topic."""

from __future__ import annotations

import asyncio

import structlog
from aiokafka import AIOKafkaProducer

from agents.services.base import running, stop_step
from agents.services.children import EmbeddedChildren
from agents.services.clickhouse import ClickHouseStore
from agents.settings import Settings
from connectors.clickhouse.org_dims import sync_org
from connectors.kafka import registry_topic
from connectors.kafka import topics as kafka_conn
from streams.metrics import Metrics
from streams.registry import Registry
from streams.registry.csv_io import read_csv_dir
from streams.registry.generate import generate
from streams.registry.snapshot import read_snapshot, write_snapshot

log = structlog.get_logger(__name__)


class KafkaTopics:
    """Creates the topics that do not exist yet; which ones were created tells ClickHouse the broker is new."""

    name = "topics"

    def __init__(self, settings: Settings, children: EmbeddedChildren) -> None:
        self.settings = settings
        self.children = children
        self._created: list[str] | None = None

    @property
    def created(self) -> list[str]:
        return running(self._created, "topic creation")

    async def start(self) -> None:
        self._created = await asyncio.to_thread(
            kafka_conn.ensure_topics, self.children.bootstrap, self.settings.topic_partitions
        )

    async def stop(self) -> None:
        pass  # topics outlive the process


class KafkaProducer:
    """The one producer of the process: gateway batches, dead letters, alerts and the registry's first rows."""

    name = "producer"

    def __init__(self, children: EmbeddedChildren) -> None:
        self.children = children
        self._producer: AIOKafkaProducer | None = None

    @property
    def producer(self) -> AIOKafkaProducer:
        return running(self._producer, "the Kafka producer")

    async def send_all(self, topic: str, items: list[tuple[bytes, bytes]]) -> None:
        await kafka_conn.send_all(self.producer, topic, items)

    async def start(self) -> None:
        self._producer = kafka_conn.make_producer(self.children.bootstrap, "govpulse")
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await stop_step(self.name, self._producer.stop)


class RegistrySync:
    """Keeps the process's registry in step with the registry topic, seeding an empty topic first.

    With ClickHouse in the process, every update is copied to the org dimension tables the indicators join.
    """

    name = "registry"

    def __init__(
        self,
        settings: Settings,
        children: EmbeddedChildren,
        producer: KafkaProducer,
        registry: Registry,
        metrics: Metrics,
        clickhouse: ClickHouseStore | None,
    ) -> None:
        self.settings = settings
        self.children = children
        self.producer = producer
        self.registry = registry
        self.metrics = metrics
        self.clickhouse = clickhouse
        self._follower: registry_topic.RegistryFollower | None = None

    @property
    def follower(self) -> registry_topic.RegistryFollower:
        return running(self._follower, "the registry follower")

    def ready(self) -> bool:
        """True once the topic has been replayed to its end."""
        return self._follower is not None and self._follower.ready.is_set()

    async def start(self) -> None:
        bootstrap = self.children.bootstrap
        if await registry_topic.topic_is_empty(bootstrap):
            await registry_topic.publish(await asyncio.to_thread(self._initial_registry), self.producer.producer)
        self._follower = registry_topic.RegistryFollower(bootstrap, self.registry, self.metrics, self._changed)
        await self._follower.start()
        await self._keep_snapshot()
        if self.clickhouse is not None:
            await sync_org(self.clickhouse.client, self.registry)

    async def stop(self) -> None:
        if self._follower is not None:
            await stop_step(self.name, self._follower.stop)

    def _initial_registry(self) -> Registry:
        s = self.settings
        if s.embedded_kafka and s.registry_snapshot_path.exists():
            # The registry as the last run followed it, imports included: the embedded broker kept none of it.
            registry = read_snapshot(s.registry_snapshot_path)
            log.info("registry_from_snapshot", path=str(s.registry_snapshot_path), **registry.counts())
            return registry
        if s.registry_dir is not None:
            return read_csv_dir(s.registry_dir)
        return generate(halls=s.registry_halls)

    async def _keep_snapshot(self) -> None:
        """Embedded mode: the registry as followed now, on disk for the next start of a broker that forgets."""
        if not self.settings.embedded_kafka:
            return  # a real broker keeps the compacted topic itself
        try:
            await asyncio.to_thread(write_snapshot, self.registry, self.settings.registry_snapshot_path)
        except OSError as exc:
            log.warning("registry_snapshot_failed", error=str(exc)[:300])

    async def _changed(self) -> None:
        await self._keep_snapshot()
        if self.clickhouse is None:
            return  # a gateway keeps the registry in memory only
        try:
            await sync_org(self.clickhouse.client, self.registry)
        except Exception as exc:  # noqa: BLE001 - the next update retries; the follower must keep going
            log.warning("org_dims_sync_failed", error=str(exc)[:300])
