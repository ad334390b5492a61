"""Hostile input at both doors of the real stack: the HTTP gateway and the raw topics.

Every request gets an answer that is not a 500, every record in it an
outcome with a reason; every message put straight onto a topic that is not
a good batch is dead-lettered with its reason; and the worker is still
storing good events afterwards.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from hypothesis import given, settings

from connectors.kafka import topics as kafka_conn
from streams.validation import REASONS
from tests.fuzz_records import FUZZ, base_events, hostile_batches
from tests.integration.cities import SHARED_CITY
from tests.integration.helpers import eventually, queue_event

pytestmark = [
    pytest.mark.integration,
    # The stack's Kafka client threads use the `random` module while Hypothesis draws here, which it reports.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]
BROKEN_BODIES = [
    b"",
    b"{",
    b"\xff\xfe\x00",
    b"[]",
    b"null",
    b'"events"',
    b'{"events": 5}',
    b'{"events": {}}',
    b"[" * 100_000,
    b'{"events": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
    b'{"events": [1e999]}',
    b'{"events": [NaN]}',
    b'{"source": "node-440100", "events": []}',
    b'{"events": [], "batch_id": "' + b"x" * 100 + b'"}',
    b'{"events": [], "batch_id": "a b"}',
    json.dumps({"events": [{}] * 6000}).encode(),
]


@pytest.fixture(scope="module")
def city(claim_module_city) -> int:
    """The module's city: hostile records may be stored with odd timestamps, so no test counting a day may share it."""
    return claim_module_city()


def _batches(stack, city: int, n_examples: int) -> list[tuple[str, list[Any]]]:
    """Hostile batches per stream, drawn by Hypothesis (deterministically) before anything is sent; foreign entities
    are the shared city's, which the pool never hands out."""
    drawn: list[tuple[str, list[Any]]] = []

    @settings(FUZZ, max_examples=n_examples)
    @given(hostile_batches(stack.registry, city, SHARED_CITY, datetime.now(UTC)))
    def draw(case: tuple[str, list[Any]]) -> None:
        drawn.append(case)

    draw()
    return drawn


async def test_hostile_requests_each_get_an_answer_and_every_record_a_reason(stack, city: int) -> None:
    source = f"node-{city}"
    headers = {"Authorization": f"Bearer {stack.demo_tokens[source]}", "Content-Type": "application/json"}
    tried = records = mishandled = 0
    problems: list[str] = []
    async with aiohttp.ClientSession(base_url=stack.base_url) as client:
        for body in BROKEN_BODIES:
            async with client.post("/api/v1/ingest/queue", data=body, headers=headers) as resp:
                tried += 1
                answer = await resp.json()
                if resp.status not in (202, 400, 403, 413) or ("error" not in answer and "rejected" not in answer):
                    problems.append(f"{body[:40]!r}: {resp.status} {answer}")
        for stream, events in _batches(stack, city, 165):
            text = json.dumps({"source": source, "events": events}, allow_nan=True)
            async with client.post(
                f"/api/v1/ingest/{stream}", data=text.encode("utf-8", "surrogatepass"), headers=headers
            ) as resp:
                tried += 1
                records += len(events)
                answer = await resp.json()
                if resp.status in (202, 400) and "rejected" in answer:
                    outcome = answer["accepted"] + len(answer["rejected"])
                    bad = [r for r in answer["rejected"] if r["reason"] not in REASONS or not r["detail"]]
                    if outcome != len(events) or bad:
                        problems.append(f"{stream}: {outcome} outcomes for {len(events)} records; {bad[:2]}")
                elif resp.status != 400 or answer.get("error") != "malformed":  # a body that is not JSON at all
                    problems.append(f"{stream}: {resp.status} {answer}")
    mishandled = len(problems)
    print(f"gateway fuzz: {tried} requests, {records} hostile records, mishandled {mishandled}")
    assert problems == []
    assert records >= 4000
    await _still_storing(stack, city)


async def test_hostile_messages_on_the_topics_are_dead_lettered_with_reasons(stack, city: int) -> None:
    source = f"node-{city}"
    marker = f"fz{uuid.uuid4().hex[:10]}"
    now = datetime.now(UTC)
    good = base_events(stack.registry, city, now)[0]
    junk: list[tuple[str, bytes]] = [
        ("raw.queue", b"\x00\x01\x02" + marker.encode()),
        ("raw.queue", json.dumps({"note": marker}).encode()),
        ("raw.queue", json.dumps({"v": 99, "note": marker}).encode()),
        ("raw.queue", json.dumps({"v": [marker]}).encode()),  # found by atheris: an unhashable version raised
        ("raw.window", json.dumps([marker]).encode()),
        ("raw.video", ("{" * 3000 + marker).encode()),
        (
            "raw.evaluation",
            json.dumps(
                {"v": 1, "stream": "evaluation", "source": source, "batch_id": marker, "events": "not a list"}
            ).encode(),
        ),
    ]
    # A well-formed batch of hostile records: the batch is fine, each record gets its own reason.
    hostile = [
        {**good, "event_id": f"{marker}-{i}", "occurred_at": (now + timedelta(days=i)).isoformat()} for i in range(1, 4)
    ]
    hostile.append({**good, "event_id": f"{marker}-x", "hall_id": {"deep": [[[]]]}})
    batch = {
        "v": 1,
        "stream": "queue",
        "source": source,
        "batch_id": marker,
        "received_at": now.isoformat(),
        "events": hostile,
    }
    junk.append(("raw.queue", json.dumps(batch).encode()))
    producer = kafka_conn.make_producer(stack.bootstrap, "fuzz")
    await producer.start()
    try:
        for topic, value in junk:
            await producer.send_and_wait(topic, value=value, key=str(city).encode())
    finally:
        await producer.stop()

    async def dead_lettered() -> list | None:
        rows = await stack.ch.query(
            "SELECT reason, origin FROM rejections FINAL "
            "WHERE position(record, {m:String}) > 0 OR event_id LIKE {p:String}",
            {"m": marker, "p": f"{marker}%"},
        )
        return rows if len(rows) >= len(junk) - 1 + len(hostile) else None

    rows = await eventually(dead_lettered, timeout_s=30)
    reasons = sorted(reason for reason, _ in rows)
    assert len(rows) == len(junk) - 1 + len(hostile), rows
    assert reasons.count("malformed") == len(junk) - 1
    assert reasons.count("future") == 3 and reasons.count("schema") == 1
    assert all(
        origin.startswith("raw.") and origin.count(":") == 2 for _, origin in rows
    )  # <topic>:<partition>:<offset>
    await _still_storing(stack, city)


async def _still_storing(stack, city: int) -> None:
    """The worker took all that and still stores a good event."""
    event = queue_event(stack.registry, city)
    source = f"node-{city}"
    headers = {"Authorization": f"Bearer {stack.demo_tokens[source]}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{stack.base_url}/api/v1/ingest/queue", json={"source": source, "events": [event]}, headers=headers
        ) as resp,
    ):
        assert resp.status == 202

    async def stored() -> bool:
        rows = await stack.ch.query(
            "SELECT count() FROM queue_events WHERE event_id = {e:String}", {"e": event["event_id"]}
        )
        return rows[0][0] == 1

    await eventually(stored, timeout_s=30)
