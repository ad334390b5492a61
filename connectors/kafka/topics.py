"""Kafka plumbing: topic creation (kafka-python admin) and an async producer (aiokafka)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from aiokafka import AIOKafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from streams.deadletter import DEAD_LETTER_TOPIC
from streams.definitions import STREAMS

log = structlog.get_logger(__name__)

REGISTRY_TOPIC = "registry"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(partitions: int) -> list[TopicSpec]:
    """Every topic govpulse uses. Raw topics and dead letters are keyed by city code."""
    specs = [TopicSpec(spec.topic, partitions, {}) for spec in STREAMS.values()]
    specs.append(TopicSpec(DEAD_LETTER_TOPIC, partitions, {}))
    # Alert notices, keyed by fingerprint: one alert's notices stay in order.
    specs.append(TopicSpec("alerts", partitions, {}))
    # One partition keeps registry updates in order; compaction keeps the latest row per entity.
    specs.append(TopicSpec(REGISTRY_TOPIC, 1, {"cleanup.policy": "compact"}))
    return specs


def bootstrap_servers(kafka_dsn: str) -> str:
    return kafka_dsn.removeprefix("kafka://")


def ensure_topics(bootstrap: str, partitions: int) -> list[str]:
    """Create missing topics; existing ones are left as they are. Returns those created."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="govpulse-admin")
    try:
        existing = set(admin.list_topics())
        wanted = [s for s in topic_specs(partitions) if s.name not in existing]
        created = []
        for spec in wanted:
            try:
                admin.create_topics([NewTopic(spec.name, spec.partitions, 1, topic_configs=spec.config)])
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass  # another process created it in between
        if created:
            log.info("topics_created", topics=created)
        return created
    finally:
        admin.close()


def make_producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """acks=all: a send completes only when the broker holds the message."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        linger_ms=2,
        max_request_size=16 * 1024 * 1024,
        request_timeout_ms=15_000,
    )


async def send_all(producer: AIOKafkaProducer, topic: str, items: list[tuple[bytes, bytes]]) -> None:
    """Send (key, value) pairs and return once the broker has acknowledged every one."""
    futures = [await producer.send(topic, value=value, key=key) for key, value in items]
    await asyncio.gather(*futures)
