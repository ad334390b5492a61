"""Alerts end to end on the real embedded stack with the shipped rules: gateway → worker → rules → Redis, ClickHouse."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from connectors.alert_outputs import ACTIVE_KEY
from streams.alerts.model import fingerprint
from tests.integration.conftest import eventually

pytestmark = pytest.mark.integration
SW = 441500  # 汕尾: no other test sends for it
SOURCE = f"node-{SW}"


def _bad_reviews(stack, staff: str, at: datetime, n: int) -> list[dict]:
    hall = stack.registry.halls_in_city(SW)[0]
    window = next(w for w in stack.registry.entities("window") if w.hall_id == hall.hall_id)
    item = next(iter(stack.registry.entities("item")))
    run = f"{time.time():.0f}-{staff}"
    return [
        {"event_id": f"e2e-{run}-{i}", "source": SOURCE, "seq": i, "occurred_at": (at + timedelta(seconds=20 * i)).isoformat(),
         "sent_at": datetime.now(UTC).isoformat(), "type": "evaluation", "case_no": f"BJ{run}{i}", "item_id": item.item_id,
         "dept_id": item.dept_id, "level": "very_dissatisfied", "channel": "hall_pad", "mode": "active",
         "hall_id": hall.hall_id, "window_id": window.window_id, "staff_id": staff,
         "evaluator_hash": hashlib.sha256(f"{run}{i}".encode()).hexdigest()}
        for i in range(n)
    ]  # fmt: skip


async def _post(stack, events: list[dict]) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{stack.base_url}/api/v1/ingest/evaluation", json={"source": SOURCE, "events": events},
                                headers={"Authorization": f"Bearer {stack.demo_tokens[SOURCE]}"}) as resp:  # fmt: skip
            assert resp.status == 202, await resp.text()


async def _history(stack, fp: str) -> list[str] | None:
    rows = await stack.ch.query("SELECT kind FROM alert_notices FINAL WHERE fingerprint = {f:String} ORDER BY at, kind", {"f": fp})
    return [r[0] for r in rows] or None


async def test_a_bad_review_burst_fires_once_shows_live_and_resolves(stack) -> None:
    """Five bad reviews for one staff member fire staff_bad_review_burst once (a resend adds nothing); once the
    30-minute window has passed over them, the alert resolves, with one resolved notice."""
    staff = "S-E2E-1"
    events = _bad_reviews(stack, staff, datetime.now(UTC) - timedelta(minutes=40), 5)
    await _post(stack, events)
    await _post(stack, events[:3])  # a node resending: duplicates, rejected, and no second alert
    fp = fingerprint("staff_bad_review_burst", {"city": str(SW), "staff": staff})
    history = await eventually(lambda: _history_when(stack, fp, 2), timeout_s=45)
    assert history == ["firing", "resolved"]
    assert await stack.redis.hget(ACTIVE_KEY, fp) is None
    rows = await stack.ch.query("SELECT count() FROM alert_notices FINAL WHERE rule_id = 'staff_bad_review_burst' "
                                "AND group_keys['staff'] = {s:String}", {"s": staff})  # fmt: skip
    assert rows[0][0] == 2


async def test_a_live_burst_stays_firing_in_the_active_set(stack) -> None:
    """A burst happening now is firing in Redis, with the triggering event ids as evidence, and not resolved."""
    staff = "S-E2E-2"
    events = _bad_reviews(stack, staff, datetime.now(UTC) - timedelta(minutes=2), 5)
    await _post(stack, events)
    fp = fingerprint("staff_bad_review_burst", {"city": str(SW), "staff": staff})

    async def active() -> dict | None:
        raw = await stack.redis.hget(ACTIVE_KEY, fp)
        return json.loads(raw) if raw else None

    alert = await eventually(active, timeout_s=30)
    assert alert["state"] == "firing" and alert["rule_id"] == "staff_bad_review_burst"
    assert sorted(alert["evidence"]["event_ids"]) == sorted(e["event_id"] for e in events)
    assert alert["evidence"]["message"] == f"工作人员 {staff} 30m内收到 5 条差评"  # the shipped template, rendered
    assert await _history(stack, fp) == ["firing"]


async def _history_when(stack, fp: str, n: int) -> list[str] | None:
    found = await _history(stack, fp)
    return found if found and len(found) >= n else None
