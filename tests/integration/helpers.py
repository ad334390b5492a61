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


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every message now on `topic`, from the beginning (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Any] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batches.items():
                out.extend(messages)
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
        return out
    finally:
        await consumer.stop()
