"""The monitoring center's API on the real embedded stack: sign-in, roles, city scope, actions, live feed."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from connectors.center.auth_api import COOKIE
from connectors.center.sessions import SessionStore
from streams.auth.users import UserStore
from tests.integration.center import PASSWORD, add_user, fire_burst, signed_in, sse_events
from tests.integration.helpers import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def city_pair(claim_module_city) -> tuple[int, int]:
    """Two cities with an operator each: the operator of the first acts, the second is a city it must not see."""
    return claim_module_city(2)


@pytest.fixture(scope="module")
def users(stack, city_pair: tuple[int, int]) -> dict[str, str]:
    city_a, city_b = city_pair
    return {
        "province": add_user(stack, "api-province", "province_operator"),
        "a": add_user(stack, "api-city-a", "city_operator", str(city_a)),
        "b": add_user(stack, "api-city-b", "city_operator", str(city_b)),
        "viewer": add_user(stack, "api-viewer", "viewer"),
    }


async def test_everything_but_the_public_paths_needs_a_sign_in(stack) -> None:
    async with aiohttp.ClientSession(base_url=stack.base_url) as anon:
        for path in (
            "/api/v1/alerts",
            "/api/v1/alerts/stream",
            "/api/v1/overview",
            "/api/v1/silences",
            "/api/v1/indicators",
            "/api/v1/scores",
            "/api/v1/rules",
        ):
            async with anon.get(path) as resp:
                assert resp.status == 401, path
        for path in ("/healthz", "/metrics", "/api/v1/openapi.yaml"):
            async with anon.get(path) as resp:
                assert resp.status == 200, path
        async with anon.post("/api/v1/silences", json={}) as resp:
            assert resp.status == 401


async def test_wrong_passwords_are_refused_then_locked_out(stack, users) -> None:
    async with aiohttp.ClientSession(base_url=stack.base_url) as anon:
        async with anon.post(
            "/api/v1/session", json={"username": users["viewer"], "password": "not-the-password1"}
        ) as resp:
            assert resp.status == 401
            assert COOKIE not in resp.cookies
        async with anon.post("/api/v1/session", json={"username": "nobody-here", "password": "whatever-123"}) as resp:
            assert resp.status == 401  # the same answer as a wrong password: names are not confirmed
        victim = add_user(stack, "api-locked", "viewer")
        for _ in range(stack.settings.login_max_failures):
            async with anon.post("/api/v1/session", json={"username": victim, "password": "guess-guess-1"}) as resp:
                assert resp.status == 401
        async with anon.post("/api/v1/session", json={"username": victim, "password": PASSWORD}) as resp:
            assert resp.status == 429  # even the right password, until the lockout expires


async def test_passwords_are_stored_hashed(stack, users) -> None:
    text = stack.settings.users_path.read_text(encoding="utf-8")
    assert PASSWORD not in text and "scrypt$" in text
    assert stack.settings.users_path.stat().st_mode & 0o077 == 0


async def test_sessions_expire_and_die_with_their_user(stack, users) -> None:
    short = SessionStore(stack.redis, ttl_s=1, max_failures=10, lockout_s=60)
    token, _ = await short.create(users["viewer"])
    async with aiohttp.ClientSession(base_url=stack.base_url, cookies={COOKIE: token}) as client:
        async with client.get("/api/v1/session") as resp:
            assert resp.status == 200
        await asyncio.sleep(2.1)
        async with client.get("/api/v1/alerts") as resp:
            assert resp.status == 401
    gone = add_user(stack, "api-gone", "province_operator")
    client = await signed_in(stack, gone)
    try:
        UserStore(stack.settings.users_path).remove(gone)
        async with client.get("/api/v1/alerts") as resp:
            assert resp.status == 401
    finally:
        await client.close()


async def test_a_city_operator_sees_and_acts_on_their_own_city_only(stack, users, city_pair) -> None:
    city_a, city_b = city_pair
    own = await fire_burst(stack, city_a, "S-API-A-1")
    other = await fire_burst(stack, city_b, "S-API-B-1")
    op_a, op_b, prov = [await signed_in(stack, users[k]) for k in ("a", "b", "province")]
    try:
        async with op_a.get("/api/v1/alerts") as resp:
            fps = {a["fingerprint"] for a in (await resp.json())["alerts"]}
        assert own in fps and other not in fps
        async with op_a.get(f"/api/v1/alerts?city={city_b}") as resp:
            assert (await resp.json())["alerts"] == []
        for method, path in (
            ("GET", f"/api/v1/alerts/{other}"),
            ("GET", f"/api/v1/alerts/{other}/trend"),
            ("POST", f"/api/v1/alerts/{other}/ack"),
        ):
            async with op_a.request(method, path, json={"comment": "not mine"}) as resp:
                assert resp.status == 404, (method, path)  # not even confirmed to exist
        async with op_a.get("/api/v1/overview") as resp:
            assert [c["code"] for c in (await resp.json())["cities"]] == [str(city_a)]
        async with prov.get("/api/v1/overview") as resp:
            cities = {c["code"]: c for c in (await resp.json())["cities"]}
        assert len(cities) == 21 and cities[str(city_b)]["counts"]["warning"] >= 1
        async with prov.get("/api/v1/alerts") as resp:
            fps = {a["fingerprint"] for a in (await resp.json())["alerts"]}
        assert {own, other} <= fps
        async with op_b.get(f"/api/v1/alerts/{other}") as resp:
            detail = await resp.json()
        assert (
            detail["alert"]["org"]["city_name"] == stack.registry.city(city_b).name
            and detail["rule"]["id"] == "staff_bad_review_burst"
        )
        assert len(detail["alert"]["evidence"]["event_ids"]) == 5
        assert detail["grafana_url"].startswith(stack.settings.grafana_url + "/d/govpulse-evaluations?")
    finally:
        for c in (op_a, op_b, prov):
            await c.close()


async def test_acknowledge_is_recorded_with_who_and_why_and_pushed_live(stack, users, city_pair) -> None:
    city_a, _ = city_pair
    fp = await fire_burst(stack, city_a, "S-API-A-2")
    op_a, prov, viewer = [await signed_in(stack, users[k]) for k in ("a", "province", "viewer")]
    try:
        async with viewer.post(f"/api/v1/alerts/{fp}/ack", json={"comment": "x"}) as resp:
            assert resp.status == 403
        async with prov.get("/api/v1/alerts/stream") as stream:
            events = sse_events(stream)
            name, snapshot = await anext(events)
            assert name == "snapshot" and fp in {a["fingerprint"] for a in snapshot["alerts"]}
            started = time.monotonic()
            async with op_a.post(f"/api/v1/alerts/{fp}/ack", json={"comment": "窗口已加派人员"}) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["alert"]["state"] == "acknowledged"
            while True:
                name, event = await asyncio.wait_for(anext(events), 10)
                if name == "alert" and event["alert"]["fingerprint"] == fp:
                    break
            seen_after = time.monotonic() - started
        assert event["kind"] == "acknowledged" and event["alert"]["ack"]["by"] == users["a"]
        assert seen_after < 5, seen_after  # the feed pushes; the target is well under a second
        async with op_a.post(f"/api/v1/alerts/{fp}/ack", json={"comment": "again"}) as resp:
            assert resp.status == 409
        async with prov.get(f"/api/v1/alerts/{fp}") as resp:
            history = (await resp.json())["history"]
        ack = [h for h in history if h["kind"] == "acknowledged"]
        assert history[0]["kind"] == "firing"
        assert ack == [
            {
                "at": ack[0]["at"],
                "kind": "acknowledged",
                "episode": None,
                "by": users["a"],
                "comment": "窗口已加派人员",
            }
        ]
        rows = await stack.ch.query(
            "SELECT actor, role, comment FROM alert_actions FINAL WHERE fingerprint = {f:String}", {"f": fp}
        )
        assert rows == [(users["a"], "city_operator", "窗口已加派人员")]
    finally:
        for c in (op_a, prov, viewer):
            await c.close()


async def test_silences_are_scoped_to_the_city_and_need_an_operator(stack, users, city_pair) -> None:
    city_a, city_b = city_pair
    fp = await fire_burst(stack, city_a, "S-API-A-3")
    op_a, op_b, prov, viewer = [await signed_in(stack, users[k]) for k in ("a", "b", "province", "viewer")]
    body = {"matchers": [{"label": "staff", "op": "=", "value": "S-API-A-3"}], "duration_s": 3600, "comment": "调查中"}
    try:
        async with viewer.post("/api/v1/silences", json=body) as resp:
            assert resp.status == 403
        async with op_a.post(
            "/api/v1/silences",
            json={**body, "matchers": [*body["matchers"], {"label": "city", "op": "=", "value": str(city_b)}]},
        ) as resp:
            assert resp.status == 403
        async with op_a.post("/api/v1/silences", json={**body, "duration_s": "1h"}) as resp:
            assert resp.status == 400
        async with op_a.post("/api/v1/silences", json=body) as resp:
            assert resp.status == 201, await resp.text()
            silence = (await resp.json())["silence"]
        assert {"label": "city", "op": "=", "value": str(city_a)} in silence["matchers"]  # added for the city operator

        async def silenced() -> bool:
            async with prov.get(f"/api/v1/alerts/{fp}") as resp:
                return (await resp.json())["alert"]["state"] == "silenced"

        await eventually(silenced, timeout_s=10)
        async with op_b.get("/api/v1/silences") as resp:
            assert silence["id"] not in {s["id"] for s in (await resp.json())["silences"]}
        async with op_b.delete(f"/api/v1/silences/{silence['id']}") as resp:
            assert resp.status == 404
        async with prov.get("/api/v1/silences") as resp:
            assert silence["id"] in {s["id"] for s in (await resp.json())["silences"]}
        async with op_a.delete(f"/api/v1/silences/{silence['id']}") as resp:
            assert resp.status == 204
        async with prov.get(f"/api/v1/alerts/{fp}") as resp:
            detail = await resp.json()
        assert detail["alert"]["state"] == "firing"
        kinds = [(h["kind"], h["by"]) for h in detail["history"]]
        assert (
            ("silenced", users["a"]) in kinds
            and ("unsilenced", "") in kinds
            and ("silence_removed", users["a"]) in kinds
        )
    finally:
        for c in (op_a, op_b, prov, viewer):
            await c.close()


async def test_rule_reload_needs_a_province_operator(stack, users) -> None:
    op_a, prov = [await signed_in(stack, users[k]) for k in ("a", "province")]
    try:
        async with op_a.post("/api/v1/rules/reload") as resp:
            assert resp.status == 403
        async with prov.post("/api/v1/rules/reload") as resp:
            assert resp.status == 200
            assert (await resp.json())["rules"] >= 20
    finally:
        await op_a.close()
        await prov.close()


async def test_state_changes_from_another_origin_are_refused(stack, users) -> None:
    prov = await signed_in(stack, users["province"])
    try:
        async with prov.post("/api/v1/rules/reload", headers={"Origin": "http://evil.example"}) as resp:
            assert resp.status == 403
    finally:
        await prov.close()


async def test_a_lost_redis_subscription_sends_every_board_a_fresh_snapshot(stack, users, city_pair) -> None:
    """Messages published while the feed was unsubscribed are lost to it; the boards get a snapshot instead."""
    city_a, _ = city_pair
    prov = await signed_in(stack, users["province"])
    try:
        async with prov.get("/api/v1/alerts/stream") as stream:
            events = sse_events(stream)
            name, _ = await anext(events)
            assert name == "snapshot"
            killed = await stack.redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            assert killed >= 1
            fp = await fire_burst(stack, city_a, "S-API-A-4")  # may fall in the gap, or arrive live after it
            seen_snapshot = seen_alert = False
            while not (seen_snapshot and seen_alert):
                name, event = await asyncio.wait_for(anext(events), 20)
                seen_snapshot |= name == "snapshot"
                seen_alert |= (name == "alert" and event["alert"]["fingerprint"] == fp) or (
                    name == "snapshot" and fp in {a["fingerprint"] for a in event["alerts"]}
                )
    finally:
        await prov.close()
