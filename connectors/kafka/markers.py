"""Knowing a topic has been read up to now, without trusting the broker's end offset.

A reader that must know it has seen everything already on a topic (the registry
follower before it reports ready, the check whether the registry topic is empty)
writes a marker of its own to every partition, then reads from the beginning
until each partition has delivered that marker: everything before it has then
been read. The broker's end offset is not used: the embedded broker (Tansu)
reports a partition's end as the newest batch's base offset + 1, short of the
true end whenever that batch holds several messages.

A marker is a message keyed `govpulse:marker:<uuid>` with no value. On a
compacted topic it is a tombstone, so compaction removes it. The embedded broker
never compacts and keeps messages until it stops, so each reader's start leaves
one marker (well under 200 bytes) per partition behind: negligible. Concurrent
readers each wait for their own marker and pass over the others'.

Every reader that applies the messages of a topic carrying markers skips them
(`is_marker`). Markers go only on topics whose readers all do: a raw topic's
worker would dead-letter one as a malformed batch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Collection, Iterable
from typing import Any, Final

from aiokafka import AIOKafkaConsumer, TopicPartition

from connectors.kafka.topics import make_producer

MARKER_PREFIX: Final = b"govpulse:marker:"


class MarkerTimeoutError(TimeoutError):
    """A partition did not deliver this reader's marker in time."""


class MissingTopicError(LookupError):
    """The topic does not exist: markers are not written to a topic that nobody created."""


def is_marker(key: bytes | None) -> bool:
    """True for any reader's marker: a message no reader applies."""
    return key is not None and key.startswith(MARKER_PREFIX)


def new_marker_key() -> bytes:
    return MARKER_PREFIX + uuid.uuid4().hex.encode()


class MarkerWait:
    """Which partitions have yet to deliver one reader's marker, and what came before it.

    Fed every message read, in order per partition; knows nothing of Kafka.
    """

    def __init__(self, key: bytes, partitions: Iterable[int]) -> None:
        self.key = key
        self._pending = set(partitions)
        self._before = dict.fromkeys(self._pending, 0)

    def observe(self, partition: int, key: bytes | None) -> None:
        """One message read from `partition`."""
        if partition not in self._pending:
            return  # past our marker: a later message, which the wait does not cover
        if key == self.key:
            self._pending.discard(partition)
        elif not is_marker(key):
            self._before[partition] += 1

    @property
    def pending(self) -> frozenset[int]:
        """Partitions whose marker has not been read yet."""
        return frozenset(self._pending)

    @property
    def done(self) -> bool:
        """Every partition has delivered the marker: everything written before it has been read."""
        return not self._pending

    @property
    def messages_before(self) -> int:
        """Messages other than markers read before the marker (so far, on partitions still pending)."""
        return sum(self._before.values())

    @property
    def empty(self) -> bool:
        """Done, and nothing but markers came before ours on any partition."""
        return self.done and self.messages_before == 0


def reading_consumer(bootstrap: str) -> AIOKafkaConsumer:
    """A consumer without a group, for reading partitions assigned by hand."""
    return AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[int]:
    """The partitions of `topic`, asking the broker again if the consumer's metadata predates the topic."""
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer.topics()  # always a fresh metadata request
        partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise MissingTopicError(f"topic {topic!r} does not exist; create the topics first (govpulse init)")
    return sorted(partitions)


async def place_markers(bootstrap: str, topic: str, partitions: Collection[int]) -> MarkerWait:
    """Write a fresh marker to each partition and return once the broker holds all of them (acks=all)."""
    key = new_marker_key()
    producer = make_producer(bootstrap, "govpulse-marker")
    await producer.start()
    try:
        futures = [await producer.send(topic, value=None, key=key, partition=p) for p in partitions]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return MarkerWait(key, partitions)


async def read_to_markers(
    consumer: AIOKafkaConsumer,
    wait: MarkerWait,
    timeout_s: float,
    *,
    apply: Callable[[Any], None] | None = None,
    enough: Callable[[], bool] | None = None,
) -> None:
    """Read what `consumer` delivers until every partition has delivered the marker, or `enough()` holds.

    Every message other than a marker goes to `apply`. Raises MarkerTimeoutError after `timeout_s`.
    """
    deadline = time.monotonic() + timeout_s
    while not wait.done and not (enough is not None and enough()):
        left = deadline - time.monotonic()
        if left <= 0:
            raise MarkerTimeoutError(
                f"partitions {sorted(wait.pending)} did not deliver marker {wait.key.decode()} within {timeout_s}s"
                f" ({wait.messages_before} messages read before it)"
            )
        batches = await consumer.getmany(timeout_ms=int(min(left, 0.5) * 1000) or 1)
        for tp, messages in batches.items():
            for msg in messages:
                wait.observe(tp.partition, msg.key)
                if apply is not None and not is_marker(msg.key):
                    apply(msg)


async def topic_is_empty(bootstrap: str, topic: str, timeout_s: float = 30.0) -> bool:
    """True when no partition of `topic` holds anything but markers.

    Stops at the first message that is not a marker, so a full topic is not read through.
    """
    consumer = reading_consumer(bootstrap)
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        wait = await place_markers(bootstrap, topic, partitions)
        await read_to_markers(consumer, wait, timeout_s, enough=lambda: wait.messages_before > 0)
        return wait.empty
    finally:
        await consumer.stop()
