"""The ingest step with an in-memory store: retries, replays and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic_core
import pytest
from prometheus_client import CollectorRegistry

from streams.ingest.batches import RawMessage
from streams.ingest.memory_store import MemoryEventStore
from streams.ingest.processor import IngestProcessor
from streams.metrics import Metrics
from streams.models.wire import encode_batch_parts
from streams.registry.generate import generate
from streams.validation import Validator

NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry():
    return generate(halls=150)


def _event(registry, n: int, **overrides) -> dict[str, Any]:
    hall = registry.halls_in_city(440100)[0]
    event = {
        "event_id": f"e{n}",
        "source": "node-440100",
        "seq": n,
        "occurred_at": (NOW - timedelta(seconds=2)).isoformat(),
        "sent_at": NOW.isoformat(),
        "type": "ticket_issued",
        "hall_id": hall.hall_id,
        "ticket_no": f"A{n}",
    }
    event.update(overrides)
    return event


def _message(offset: int, events: list[Any]) -> RawMessage:
    value = encode_batch_parts(
        stream="queue", source="node-440100", batch_id=f"b{offset}", received_at=None, events=events
    )
    return RawMessage("raw.queue", 0, offset, value)


def _processor(
    registry,
    store: MemoryEventStore,
    letters: list[dict[str, Any]],
    metrics: Metrics | None = None,
    generation: int = 1,
) -> IngestProcessor:
    async def send(items: list[tuple[bytes, bytes]]) -> None:
        letters.extend(pydantic_core.from_json(v) for _, v in items)

    return IngestProcessor(
        Validator(registry),
        store,
        send,
        metrics or Metrics(CollectorRegistry()),
        dedup_max_ids=1000,
        generations={"raw.queue": generation},
        retry_max_s=0.01,
        clock=lambda: NOW,
    )


async def test_a_sink_outage_is_retried_until_the_rows_are_written(registry) -> None:
    """Three failed inserts are retried, counted and shown as a stall, and the rows are written once."""
    store, letters, metrics = MemoryEventStore(), [], Metrics(CollectorRegistry())
    store.fail_next = 3
    await _processor(registry, store, letters, metrics).process(
        [_message(0, [_event(registry, 1), _event(registry, 2)])]
    )
    assert [r.event_id for r in store.tables["queue_events"]] == ["e1", "e2"]
    assert (
        metrics.registry.get_sample_value("govpulse_clickhouse_insert_failures_total", {"table": "queue_events"}) == 3
    )
    assert metrics.registry.get_sample_value("govpulse_sink_stalled") == 0


async def test_replayed_messages_are_skipped_and_true_duplicates_dead_lettered(registry) -> None:
    """Offsets already stored are skipped after a restart; a resent event id at a new offset is a duplicate."""
    store, letters = MemoryEventStore(), []
    await _processor(registry, store, letters).process(
        [_message(0, [_event(registry, 1)]), _message(1, [_event(registry, 2)])]
    )
    restarted = _processor(registry, store, letters)
    await restarted.process(
        [_message(1, [_event(registry, 2)]), _message(2, [_event(registry, 1), _event(registry, 3)])]
    )
    assert sorted(r.event_id for r in store.tables["queue_events"]) == ["e1", "e2", "e3"]
    assert [(d["reason"], d["event_id"], d["origin"]) for d in letters] == [("duplicate", "e1", "raw.queue@1:0:2")]


async def test_a_recreated_topic_starting_again_at_offset_0_is_not_taken_for_a_replay(registry) -> None:
    """After the broker forgot its topics, new messages at old offsets are stored; old ids resent are duplicates."""
    store, letters = MemoryEventStore(), []
    await _processor(registry, store, letters).process(
        [_message(0, [_event(registry, 1)]), _message(1, [_event(registry, 2)])]
    )
    reborn = _processor(registry, store, letters, generation=2)
    await reborn.process([_message(0, [_event(registry, 3)]), _message(1, [_event(registry, 1)])])
    assert sorted(r.event_id for r in store.tables["queue_events"]) == ["e1", "e2", "e3"]
    assert [(d["reason"], d["event_id"], d["origin"]) for d in letters] == [("duplicate", "e1", "raw.queue@2:0:1")]


async def test_an_unreadable_message_becomes_one_malformed_dead_letter(registry) -> None:
    """Bytes that are not a batch are dead-lettered whole, and the next message still goes through."""
    store, letters = MemoryEventStore(), []
    garbage = RawMessage("raw.queue", 0, 0, b"\x00not json")
    await _processor(registry, store, letters).process([garbage, _message(1, [_event(registry, 5)])])
    assert [(d["reason"], d["origin"]) for d in letters] == [("malformed", "raw.queue@1:0:0")]
    assert [r.event_id for r in store.tables["queue_events"]] == ["e5"]


async def test_a_write_that_reached_one_shard_only_is_completed_on_replay(registry) -> None:
    """Rows of one city lost from a partly applied cluster insert are written again, not skipped for another city's."""
    store, letters = MemoryEventStore(), []
    sz_hall = registry.halls_in_city(440300)[0]
    sz = _event(registry, 7, source="node-440300", hall_id=sz_hall.hall_id)
    sz_value = encode_batch_parts(stream="queue", source="node-440300", batch_id="b5", received_at=None, events=[sz])
    messages = [RawMessage("raw.queue", 0, 5, sz_value), _message(6, [_event(registry, 8)])]
    await _processor(registry, store, letters).process(messages)
    # Shenzhen's shard never got its part of the INSERT; Guangzhou's (the higher offset) did.
    store.tables["queue_events"] = [r for r in store.tables["queue_events"] if r.city_code != 440300]
    await _processor(registry, store, letters).process(messages)
    assert sorted(r.event_id for r in store.tables["queue_events"]) == ["e7", "e8"]
    assert letters == []


async def test_the_dedup_budget_is_shared_by_the_partitions_a_worker_holds(registry) -> None:
    """With a budget of 2,000 ids, a second partition halves the first one's memory: its oldest ids are forgotten."""
    store, letters = MemoryEventStore(), []
    processor = IngestProcessor(
        Validator(registry),
        store,
        lambda items: _collect(letters, items),
        Metrics(CollectorRegistry()),
        dedup_max_ids=2000,
        generations={"raw.queue": 1},
        retry_max_s=0.01,
        clock=lambda: NOW,
    )
    await processor.process(
        [_message(i, [_event(registry, n) for n in range(i * 500, i * 500 + 500)]) for i in range(3)]
    )
    other = encode_batch_parts(
        stream="queue", source="node-440100", batch_id="p1", received_at=None, events=[_event(registry, 9999)]
    )
    await processor.process([RawMessage("raw.queue", 1, 0, other)])
    resent = [_event(registry, 0), _event(registry, 1499)]  # the oldest id (forgotten) and the newest (remembered)
    await processor.process([_message(3, resent)])
    assert [d["event_id"] for d in letters] == ["e1499"]


async def test_a_partition_refills_its_share_of_every_partition_the_worker_was_given(registry) -> None:
    """Given four raw partitions and one of another topic, the first one recovered reads a quarter of the budget."""
    store, asked = MemoryEventStore(), []
    recent_ids = store.recent_ids

    async def counted(topic: str, generation: int, partition: int, limit: int) -> list[tuple[str, int]]:
        asked.append(limit)
        return await recent_ids(topic, generation, partition, limit)

    store.recent_ids = counted  # type: ignore[method-assign]  # records the limit the processor asks for
    processor = IngestProcessor(
        Validator(registry),
        store,
        lambda items: _collect([], items),
        Metrics(CollectorRegistry()),
        dedup_max_ids=8000,
        generations={"raw.queue": 1},
        clock=lambda: NOW,
    )
    processor.hold([("raw.queue", p) for p in range(4)] + [("govpulse.alerts", 0)])
    await processor.process([_message(0, [_event(registry, 1)])])
    assert asked == [2000]


async def _collect(letters: list[dict[str, Any]], items: list[tuple[bytes, bytes]]) -> None:
    letters.extend(pydantic_core.from_json(v) for _, v in items)


async def test_a_message_is_acknowledged_only_once_its_rows_are_stored(registry) -> None:
    """write_behind acks once the store's insert returned, however often it failed before: no commit before a write."""
    store, letters = MemoryEventStore(), []
    store.fail_next = 2
    stored_at_ack: list[list[str]] = []
    processor = _processor(registry, store, letters)
    await processor.write_behind(
        [_message(0, [_event(registry, 1), _event(registry, 2)])],
        lambda: stored_at_ack.append([r.event_id for r in store.tables.get("queue_events", [])]),
    )
    await processor.settle()
    assert stored_at_ack == [["e1", "e2"]]
