"""The city-node SDK producing straight to the embedded broker."""

from __future__ import annotations

import asyncio

import pytest

from connectors.kafka.sdk import CityNodeProducer
from tests.integration.cities import SHARED_CITY
from tests.integration.helpers import eventually, queue_event

pytestmark = pytest.mark.integration
GZ = SHARED_CITY


async def test_sdk_batches_reach_clickhouse_and_bad_records_are_rejected_by_the_worker(stack) -> None:
    """Events sent with the SDK are stored; a record for an unknown hall is counted as rejected, not stored."""
    good = [queue_event(stack.registry, GZ) for _ in range(4)]
    bad = queue_event(stack.registry, GZ, hall_id="H123456789")
    before = _rejected_unknown(stack)

    def produce() -> None:
        with CityNodeProducer(stack.bootstrap, f"node-{GZ}", GZ, max_batch_events=3) as node:
            node.send_and_wait("queue", [*good, bad])

    await asyncio.to_thread(produce)
    ids = [e["event_id"] for e in good] + [bad["event_id"]]

    async def stored() -> list | None:
        rows = await stack.ch.query(
            "SELECT event_id FROM queue_events WHERE event_id IN {ids:Array(String)}", {"ids": ids}
        )
        return rows if len(rows) >= 4 else None

    rows = await eventually(stored)
    assert sorted(r[0] for r in rows) == sorted(e["event_id"] for e in good)

    async def counted() -> bool:
        return _rejected_unknown(stack) > before

    await eventually(counted)


def _rejected_unknown(stack) -> float:
    value = stack.metrics.registry.get_sample_value("govpulse_events_rejected_total", {"reason": "unknown_entity"})
    return value or 0.0
