"""Alerts end to end on the real embedded stack with the shipped rules: gateway → worker → rules → Redis, ClickHouse."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from connectors.alert_outputs import ACTIVE_KEY
from streams.alerts.model import fingerprint
from tests.integration.center import bad_reviews, post_events
from tests.integration.helpers import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def city(claim_module_city) -> int:
    """The module's city: each test's bursts are for a staff member of its own, so neither counts the other's."""
    return claim_module_city()


async def _history(stack, fp: str) -> list[str] | None:
    rows = await stack.ch.query(
        "SELECT kind FROM alert_notices FINAL WHERE fingerprint = {f:String} ORDER BY at, kind", {"f": fp}
    )
    return [r[0] for r in rows] or None


async def test_a_bad_review_burst_fires_once_shows_live_and_resolves(stack, city: int) -> None:
    """Five bad reviews for one staff member fire staff_bad_review_burst once (a resend adds nothing); once the
    30-minute window has passed over them, the alert resolves, with one resolved notice."""
    staff = "S-E2E-1"
    events = bad_reviews(stack, city, staff, at=datetime.now(UTC) - timedelta(minutes=40))
    await post_events(stack, city, "evaluation", events)
    await post_events(
        stack, city, "evaluation", events[:3]
    )  # a node resending: duplicates, rejected, and no second alert
    fp = fingerprint("staff_bad_review_burst", {"city": str(city), "staff": staff})
    history = await eventually(lambda: _history_when(stack, fp, 2), timeout_s=45)
    assert history == ["firing", "resolved"]
    assert await stack.redis.hget(ACTIVE_KEY, fp) is None
    rows = await stack.ch.query(
        "SELECT count() FROM alert_notices FINAL WHERE rule_id = 'staff_bad_review_burst' "
        "AND group_keys['staff'] = {s:String}",
        {"s": staff},
    )
    assert rows[0][0] == 2


async def test_a_live_burst_stays_firing_in_the_active_set(stack, city: int) -> None:
    """A burst happening now is firing in Redis, with the triggering event ids as evidence, and not resolved."""
    staff = "S-E2E-2"
    events = bad_reviews(stack, city, staff)
    await post_events(stack, city, "evaluation", events)
    fp = fingerprint("staff_bad_review_burst", {"city": str(city), "staff": staff})

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
