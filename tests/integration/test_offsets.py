"""Against a bare embedded broker: its end offset falls short after a multi-record batch, and the marker read, the
empty-topic check and the registry follower's readiness do not depend on it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry

from connectors.embedded import free_port, tansu_broker
from connectors.kafka import markers, registry_topic
from connectors.kafka import topics as kafka_conn
from streams.metrics import Metrics
from streams.registry import KINDS, Registry, topic_key
from streams.registry.generate import generate

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A Tansu broker of this module's own, with govpulse's topics (one partition each)."""
    broker = tansu_broker(free_port(), tmp_path_factory.mktemp("offsets-broker"))
    await asyncio.to_thread(broker.start)
    try:
        address = f"127.0.0.1:{broker.port}"
        await asyncio.to_thread(kafka_conn.ensure_topics, address, 1)
        yield address
    finally:
        await asyncio.to_thread(broker.stop)


def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="test-offsets")
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        admin.close()


async def _reported_end(bootstrap: str, topic: str) -> int:
    consumer = markers.reading_consumer(bootstrap)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        return int((await consumer.end_offsets([tp]))[tp])
    finally:
        await consumer.stop()


async def _read_past_markers(bootstrap: str, topic: str) -> list[bytes | None]:
    """Every value on `topic` before this reader's markers, markers left out."""
    consumer = markers.reading_consumer(bootstrap)
    await consumer.start()
    try:
        partitions = await markers.topic_partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        wait = await markers.place_markers(bootstrap, topic, partitions)
        values: list[bytes | None] = []
        await markers.read_to_markers(consumer, wait, 30.0, apply=lambda msg: values.append(msg.value))
        return values
    finally:
        await consumer.stop()


async def test_the_marker_read_finds_every_message_of_a_multi_record_batch_the_end_offset_misses(bootstrap) -> None:
    """Ten single-message batches and one batch of three: the marker read returns all 13 whatever the broker reports."""
    topic = "offsets.batches"
    await asyncio.to_thread(_create_topic, bootstrap, topic, 1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, f"single-{i}".encode(), key=b"k", partition=0)
        batch = producer.create_batch()
        for i in range(3):
            assert batch.append(key=b"k", value=f"batched-{i}".encode(), timestamp=None) is not None
        assert batch.record_count() == 3
        sent = await (await producer.send_batch(batch, topic, partition=0))
    finally:
        await producer.stop()
    assert sent.offset == 10  # one batch: the three records took offsets 10 to 12 together

    reported = await _reported_end(bootstrap, topic)
    print(f"\nbroker end offset after 13 messages (the last three in one batch): {reported}")
    values = await _read_past_markers(bootstrap, topic)
    assert values == [f"single-{i}".encode() for i in range(10)] + [f"batched-{i}".encode() for i in range(3)]
    assert not await markers.topic_is_empty(bootstrap, topic)


async def test_a_topic_holding_only_markers_is_empty(bootstrap) -> None:
    """Markers written by earlier readers, on any partition, do not make a topic non-empty."""
    topic = "offsets.only-markers"
    await asyncio.to_thread(_create_topic, bootstrap, topic, 3)
    assert await markers.topic_is_empty(bootstrap, topic)
    assert await markers.topic_is_empty(bootstrap, topic)  # the first check's markers now precede the second's
    assert await _read_past_markers(bootstrap, topic) == []


async def test_a_missing_topic_is_named_not_created(bootstrap) -> None:
    with pytest.raises(markers.MissingTopicError, match=r"offsets\.never-created"):
        await markers.topic_is_empty(bootstrap, "offsets.never-created")


class _RecordingRegistry(Registry):
    """A registry that remembers every message key the follower hands it."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: list[str] = []

    def apply(self, message_key: str, row: Mapping[str, object] | None) -> None:
        self.keys.append(message_key)
        super().apply(message_key, row)


async def test_the_registry_follower_is_ready_only_once_every_published_entity_is_applied(bootstrap) -> None:
    """A registry whose last batch holds most of its entities: two followers started together are each ready with
    all of it, and no marker reaches the registry."""
    assert await registry_topic.topic_is_empty(bootstrap)
    full = generate(halls=143)
    # Cities and counties as `publish` sends them, then every other entity (5,301 rows) in one batch: the broker's end
    # offset is then thousands short, and a follower's first poll of that batch (up to 5,000 messages) passes it.
    parents = Registry()
    last_batch: list[tuple[bytes, bytes]] = []
    for kind, key, row in full.to_rows():
        if kind not in ("city", "county"):
            last_batch.append((topic_key(kind, key).encode(), json.dumps(row, ensure_ascii=False).encode()))
        else:
            parents.apply(topic_key(kind, key), row)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_batch_size=4 * 1024 * 1024, max_request_size=16 * 1024 * 1024
    )
    await producer.start()
    try:
        published = await registry_topic.publish(parents, producer)
        batch = producer.create_batch()
        for k, v in last_batch:
            assert batch.append(key=k, value=v, timestamp=None) is not None
        await (await producer.send_batch(batch, kafka_conn.REGISTRY_TOPIC, partition=0))
        published += batch.record_count()
    finally:
        await producer.stop()
    assert published == sum(full.counts().values())
    reported = await _reported_end(bootstrap, kafka_conn.REGISTRY_TOPIC)
    print(f"\nbroker end offset of the registry topic after {published} messages: {reported}")
    assert not await registry_topic.topic_is_empty(bootstrap)

    registries = [_RecordingRegistry() for _ in range(2)]
    gauges = [CollectorRegistry() for _ in range(2)]
    followers = [
        registry_topic.RegistryFollower(bootstrap, r, Metrics(g)) for r, g in zip(registries, gauges, strict=True)
    ]
    try:
        await asyncio.gather(*(f.start(timeout_s=60) for f in followers))
        for registry, gauge in zip(registries, gauges, strict=True):
            # The entity gauges are set when the follower declares itself ready: what it held at that moment.
            at_ready = {kind: gauge.get_sample_value("govpulse_registry_entities", {"kind": kind}) for kind in KINDS}
            assert at_ready == full.counts()
            assert registry == full
            assert len(registry.keys) == published
            assert not [k for k in registry.keys if k.startswith("govpulse:marker:")]
    finally:
        await asyncio.gather(*(f.stop() for f in followers))
