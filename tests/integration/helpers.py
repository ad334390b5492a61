"""What integration tests share besides fixtures: events built from the stack's registry, waiting for a condition,
reading a topic from its beginning."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.registry import Registry

_counter = itertools.count(1)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


def queue_event(registry: Registry, city: int, **overrides: Any) -> dict[str, Any]:
    """A valid `ticket_called` event for the first hall of `city`."""
    hall = registry.halls_in_city(city)[0]
    window = next(w for w in registry.windows() if w.hall_id == hall.hall_id)
    now = datetime.now(UTC)
    n = next(_counter)
    event = {
        "event_id": f"it-{city}-{n}-{now.timestamp():.0f}",
        "source": f"node-{city}",
        "seq": n,
        "occurred_at": iso(now - timedelta(seconds=5)),
        "sent_at": iso(now),
        "type": "ticket_called",
        "hall_id": hall.hall_id,
        "ticket_no": f"A{n:04d}",
        "window_id": window.window_id,
    }
    event.update(overrides)
    return event


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 30.0, every_s: float = 0.2) -> Any:
    """Poll `check` until it returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s; last value {last!r}")


async def read_topic(bootstrap: str, topic: str, quiet_s: float = 1.0, max_s: float = 30.0) -> list[Any]:
    """Every message on `topic` from its beginning (no consumer group), read until `quiet_s` pass with nothing new.

    Done is decided by that silence, never by the broker's end offset: the embedded broker reports a partition's end
    as the newest batch's base offset + 1, short of the true end after a multi-record batch. No marker
    (`connectors.kafka.markers`) is written either: the dead-letter agent and the alert topic's subscribers would take
    one for a record. A message produced during the read may or may not be in it, and a topic still being written
    after `max_s` is returned as read so far: callers waiting for a message poll with `eventually`.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        out: list[Any] = []
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=int(quiet_s * 1000))
            if not batches:
                break
            for messages in batches.values():
                out.extend(messages)
        return out
    finally:
        await consumer.stop()
