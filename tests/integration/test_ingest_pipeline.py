"""Good and bad records through the real gateway, broker, worker and chDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import aiohttp
import pydantic_core
import pytest

from connectors.clickhouse.event_store import ClickHouseEventStore
from streams.ingest.batches import RawMessage
from streams.ingest.processor import IngestProcessor
from streams.models.wire import encode_batch_parts
from tests.integration.cities import SHARED_CITY
from tests.integration.helpers import eventually, iso, queue_event, read_topic

pytestmark = pytest.mark.integration
GZ = SHARED_CITY
SZ = 440300  # another city: its hall sent by GZ's node, and its source with GZ's token, are refused


async def _post(stack, stream: str, body: dict, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.base_url}/api/v1/ingest/{stream}", json=body, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def _stored_ids(stack, ids: list[str]) -> set[str]:
    rows = await stack.ch.query("SELECT event_id FROM queue_events WHERE event_id IN {ids:Array(String)}", {"ids": ids})
    return {r[0] for r in rows}


async def test_good_records_reach_clickhouse_and_bad_ones_the_dead_letter_topic(stack) -> None:
    """Exactly the good records land in ClickHouse; each bad one is a dead letter with its reason."""
    reg = stack.registry
    now = datetime.now(UTC)
    beijing = (now - timedelta(seconds=1, microseconds=123_456)).astimezone(timezone(timedelta(hours=8)))
    good = [queue_event(reg, GZ) for _ in range(2)] + [queue_event(reg, GZ, occurred_at=beijing.isoformat())]
    twin = dict(good[0], seq=good[0]["seq"] + 1000)  # same event_id again in the same batch
    bad = {
        "schema": {k: v for k, v in queue_event(reg, GZ).items() if k != "hall_id"},
        "unknown_entity": queue_event(reg, GZ, hall_id="H999999999"),
        "scope_violation": queue_event(reg, SZ, source=f"node-{GZ}"),
        "future": queue_event(reg, GZ, occurred_at=iso(now + timedelta(days=1))),
        "too_old": queue_event(reg, GZ, occurred_at=iso(now - timedelta(days=30))),
        "malformed": "not an object",
    }
    batch_id = f"it-mixed-{now.timestamp():.0f}"
    status, answer = await _post(
        stack,
        "queue",
        {"source": f"node-{GZ}", "batch_id": batch_id, "events": [*good, twin, *bad.values()]},
        stack.demo_tokens[f"node-{GZ}"],
    )

    assert status == 202
    assert answer["accepted"] == 4  # the twin passes the stateless gateway; the worker catches it
    assert sorted(r["reason"] for r in answer["rejected"]) == sorted(bad)

    good_ids = [e["event_id"] for e in good]
    assert await eventually(lambda: _ids_when(stack, good_ids, 3)) == set(good_ids)

    async def dead_letters() -> dict[str, str] | None:
        found = {}
        for msg in await read_topic(stack.bootstrap, "deadletter"):
            d = pydantic_core.from_json(msg.value)
            if d["origin"] == f"gw:{batch_id}" or (d["reason"] == "duplicate" and d["event_id"] == twin["event_id"]):
                found[d["reason"]] = d["event_id"]
        return found if len(found) == len(bad) + 1 else None

    letters = await eventually(dead_letters)
    assert set(letters) == {*bad, "duplicate"}
    assert letters["duplicate"] == twin["event_id"]
    rows = await stack.ch.query(
        "SELECT count() FROM queue_events WHERE event_id IN {ids:Array(String)}", {"ids": good_ids}
    )
    assert rows[0][0] == 3
    # The same instant to the millisecond whatever offset the node wrote; stamped when received, then when written.
    [(occurred, received, ingested)] = await stack.ch.query(
        "SELECT toUnixTimestamp64Milli(occurred_at), toUnixTimestamp64Milli(received_at), "
        "toUnixTimestamp64Milli(ingested_at)"
        " FROM queue_events WHERE event_id = {id:String}",
        {"id": good[2]["event_id"]},
    )
    assert occurred == (beijing - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    assert now.timestamp() * 1000 - 1 <= received <= ingested <= datetime.now(UTC).timestamp() * 1000

    async def rejections_table() -> set[str] | None:
        got = await stack.ch.query(
            "SELECT DISTINCT reason FROM rejections FINAL WHERE origin = {o:String}", {"o": f"gw:{batch_id}"}
        )
        reasons = {r[0] for r in got}
        return reasons if reasons == set(bad) else None

    assert await eventually(rejections_table) == set(bad)


async def _ids_when(stack, ids: list[str], count: int) -> set[str] | None:
    found = await _stored_ids(stack, ids)
    return found if len(found) == count else None


async def test_a_redelivered_batch_leaves_no_duplicate_rows(stack) -> None:
    """A message processed again, by the same worker or by a fresh one after a crash, adds no row."""
    reg = stack.registry
    events = [queue_event(reg, GZ) for _ in range(5)]
    ids = [e["event_id"] for e in events]
    value = encode_batch_parts(
        stream="queue", source=f"node-{GZ}", batch_id="it-redeliver", received_at=None, events=events
    )
    meta = await stack.producer.send_and_wait("raw.queue", value=value, key=str(GZ).encode())
    await eventually(lambda: _ids_when(stack, ids, 5))

    redelivered = RawMessage(meta.topic, meta.partition, meta.offset, value, None)
    await stack.processor.process([redelivered])  # the same worker sees it again (rebalance)
    fresh = IngestProcessor(
        stack.processor.validator,
        ClickHouseEventStore(stack.ch),
        stack.processor.send_dead_letters,
        stack.metrics,
        dedup_max_ids=10_000,
        generations=stack.generations,
    )
    await fresh.process([redelivered])  # a restarted worker, whose state comes from ClickHouse

    rows = await stack.ch.query("SELECT count() FROM queue_events WHERE event_id IN {ids:Array(String)}", {"ids": ids})
    assert rows[0][0] == 5
    letters = [
        m
        for m in await read_topic(stack.bootstrap, "deadletter")
        if pydantic_core.from_json(m.value)["event_id"] in ids
    ]
    assert letters == []  # a redelivery is not a duplicate


async def test_gateway_refuses_without_a_token_another_citys_batch_and_oversized_input(stack) -> None:
    """401 without a token, 403 for another city's source, 413 over the batch limit, 400 for broken JSON."""
    reg = stack.registry
    token = stack.demo_tokens[f"node-{GZ}"]
    body = {"source": f"node-{GZ}", "events": [queue_event(reg, GZ)]}
    assert (await _post(stack, "queue", body, None))[0] == 401
    assert (await _post(stack, "queue", body, "wrong-token"))[0] == 401
    assert (await _post(stack, "queue", dict(body, source=f"node-{SZ}"), token))[0] == 403
    many = {
        "source": f"node-{GZ}",
        "events": [queue_event(reg, GZ) for _ in range(stack.settings.max_batch_events + 1)],
    }
    assert (await _post(stack, "queue", many, token))[0] == 413
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{stack.base_url}/api/v1/ingest/queue", data=b"{not json", headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"] == "malformed"
        huge = b"x" * (stack.settings.max_body_bytes + 1)
        async with session.post(
            f"{stack.base_url}/api/v1/ingest/queue", data=huge, headers={"Authorization": f"Bearer {token}"}
        ) as resp:
            assert resp.status == 413


async def test_metrics_count_accepted_and_rejected_events(stack) -> None:
    """/metrics exposes the accepted and rejected counters, the latency histogram and ClickHouse inserts."""
    reg = stack.registry
    token = stack.demo_tokens[f"node-{GZ}"]
    await _post(
        stack,
        "queue",
        {"source": f"node-{GZ}", "events": [queue_event(reg, GZ), queue_event(reg, GZ, hall_id="H000000000")]},
        token,
    )

    async def scrape() -> str | None:
        async with aiohttp.ClientSession() as session, session.get(f"{stack.base_url}/metrics") as resp:
            text = await resp.text()
        ok = (
            'govpulse_events_accepted_total{stream="queue"}' in text
            and 'govpulse_events_rejected_total{reason="unknown_entity"}' in text
        )
        return text if ok and "govpulse_clickhouse_insert_rows_total" in text else None

    text = await eventually(scrape)
    assert "govpulse_processing_latency_seconds_bucket" in text
    assert "govpulse_clickhouse_insert_seconds_bucket" in text


async def test_stats_report_rows_per_table(stack) -> None:
    """/api/v1/stats answers with a row count for every event table and the rejections."""
    event = queue_event(stack.registry, GZ)
    await _post(stack, "queue", {"source": f"node-{GZ}", "events": [event]}, stack.demo_tokens[f"node-{GZ}"])
    await eventually(lambda: _ids_when(stack, [event["event_id"]], 1))
    async with aiohttp.ClientSession() as session, session.get(f"{stack.base_url}/api/v1/stats") as resp:
        assert resp.status == 200
        rows = (await resp.json())["rows"]
    assert set(rows) == {
        "queue_events",
        "window_events",
        "evaluations",
        "case_events",
        "node_heartbeats",
        "camera_probes",
        "rejections",
    }
    assert rows["queue_events"] >= 1


async def test_a_full_size_batch_goes_through_as_one_message(stack) -> None:
    """A batch at the event limit is accepted whole and every event reaches ClickHouse."""
    reg = stack.registry
    events = [queue_event(reg, GZ) for _ in range(stack.settings.max_batch_events)]
    status, answer = await _post(
        stack, "queue", {"source": f"node-{GZ}", "events": events}, stack.demo_tokens[f"node-{GZ}"]
    )
    assert (status, answer["accepted"], answer["rejected"]) == (202, len(events), [])
    ids = [e["event_id"] for e in events]
    assert len(await eventually(lambda: _ids_when(stack, ids, len(ids)))) == len(ids)
