"""ClickHouse refusing writes for a while: nothing is committed past what is stored, writes are retried, /metrics
shows the stall, and afterwards every accepted event is stored exactly once."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.models.wire import BatchDecodeError, decode_batch
from tests.integration.cities import SHARED_CITY
from tests.integration.helpers import eventually, queue_event, read_topic

pytestmark = pytest.mark.integration
FAULT_S = 30.0  # as long as a ClickHouse restart takes


async def _committed(stack) -> dict[int, int]:
    """The worker group's committed offset per partition of raw.queue: the next message it would start from."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=stack.bootstrap, group_id=stack.settings.consumer_group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        tps = [TopicPartition("raw.queue", p) for p in range(stack.settings.topic_partitions)]
        return {tp.partition: (await consumer.committed(tp)) or 0 for tp in tps}
    finally:
        await consumer.stop()


async def _carrying(stack, ids: list[str]) -> dict[int, list[int]] | None:
    """Where the raw.queue messages carrying `ids` are (partition -> offsets), once every one of them is on the topic.

    Found by reading the messages themselves: the broker's end offset is no guide, the embedded broker under-reports it.
    """
    wanted = set(ids)
    seen: set[str] = set()
    where: dict[int, list[int]] = {}
    for msg in await read_topic(stack.bootstrap, "raw.queue"):
        try:
            batch = decode_batch(msg.value)
        except BatchDecodeError:
            continue  # another test's malformed input
        carried = {e.get("event_id") for e in batch.events if isinstance(e, dict)} & wanted
        if carried:
            seen |= carried
            where.setdefault(msg.partition, []).append(msg.offset)
    return where if seen == wanted else None


async def _stalled(stack) -> float | None:
    async with aiohttp.ClientSession() as session, session.get(f"{stack.base_url}/metrics") as resp:
        text = await resp.text()
    line = next(line for line in text.splitlines() if line.startswith("govpulse_sink_stalled "))
    return float(line.split()[1])


async def test_clickhouse_down_holds_commits_and_loses_nothing(stack) -> None:
    events = [queue_event(stack.registry, SHARED_CITY) for _ in range(300)]
    ids = [e["event_id"] for e in events]
    stack.ch.fail_writes_for(FAULT_S)
    fault_ends = time.monotonic() + FAULT_S
    token = stack.demo_tokens[f"node-{SHARED_CITY}"]
    async with aiohttp.ClientSession() as session:
        for i in range(0, len(events), 100):  # three batches, three Kafka messages
            async with session.post(
                f"{stack.base_url}/api/v1/ingest/queue",
                json={"events": events[i : i + 100]},
                headers={"Authorization": f"Bearer {token}"},
            ) as resp:
                assert resp.status == 202  # accepted into Kafka even though ClickHouse is down

    ours = await eventually(lambda: _carrying(stack, ids))
    assert await eventually(lambda: _stalled_now(stack), timeout_s=FAULT_S - 2) == 1.0
    committed = await _committed(stack)
    # The unwritten batches are not committed: no partition's committed offset is past the first of ours on it.
    assert ours and all(committed[p] <= min(offsets) for p, offsets in ours.items())
    stored = await stack.ch.query(
        "SELECT count() FROM queue_events WHERE event_id IN {ids:Array(String)}", {"ids": ids}
    )
    assert stored[0][0] == 0

    await asyncio.sleep(max(0.0, fault_ends - time.monotonic()))

    async def all_in() -> bool:
        rows = await stack.ch.query(
            "SELECT count(), uniqExact(event_id) FROM queue_events WHERE event_id IN {ids:Array(String)}", {"ids": ids}
        )
        return rows[0] == (300, 300)  # every one, none twice

    await eventually(all_in, timeout_s=60)
    assert await eventually(lambda: _recovered(stack), timeout_s=30)

    async def committed_all() -> bool:  # commits follow on the worker's commit timer
        committed = await _committed(stack)
        return all(committed[p] > max(offsets) for p, offsets in ours.items())

    await eventually(committed_all, timeout_s=30)


async def _stalled_now(stack) -> float | None:
    value = await _stalled(stack)
    return value if value == 1.0 else None


async def _recovered(stack) -> bool:
    return await _stalled(stack) == 0.0
