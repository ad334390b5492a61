"""Monitoring-center test helpers: users, signed-in HTTP sessions, and an alert fired for real through the gateway."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from agents.stack import Stack
from connectors.alert_outputs import ACTIVE_KEY
from streams.alerts.model import fingerprint
from streams.auth.users import UserStore, new_user
from tests.integration.helpers import eventually

PASSWORD = "duty-Passw0rd"


def add_user(stack: Stack, username: str, role: str, city: str | None = None) -> str:
    store = UserStore(stack.settings.users_path)
    if store.get(username) is None:
        store.put(new_user(username, role, PASSWORD, city=city, display_name=username))
    return username


async def signed_in(stack: Stack, username: str) -> aiohttp.ClientSession:
    """A client session holding the user's cookie (unsafe=True: the stack listens on an IP, not a name)."""
    session = aiohttp.ClientSession(base_url=stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post("/api/v1/session", json={"username": username, "password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
    return session


def bad_reviews(stack: Stack, city: int, staff: str, n: int = 5, at: datetime | None = None) -> list[dict[str, Any]]:
    """`n` very-dissatisfied evaluations for one staff member of the city's first hall: fires staff_bad_review_burst."""
    hall = stack.registry.halls_in_city(city)[0]
    window = next(w for w in stack.registry.windows() if w.hall_id == hall.hall_id)
    item = next(iter(stack.registry.items()))
    at = at or datetime.now(UTC) - timedelta(minutes=2)
    run = f"{time.time_ns()}-{staff}"
    return [
        {
            "event_id": f"ctr-{run}-{i}",
            "source": f"node-{city}",
            "seq": i,
            "occurred_at": (at + timedelta(seconds=10 * i)).isoformat(),
            "sent_at": datetime.now(UTC).isoformat(),
            "type": "evaluation",
            "case_no": f"BJ{run}{i}",
            "item_id": item.item_id,
            "dept_id": item.dept_id,
            "level": "very_dissatisfied",
            "channel": "hall_pad",
            "mode": "active",
            "hall_id": hall.hall_id,
            "window_id": window.window_id,
            "staff_id": staff,
            "evaluator_hash": hashlib.sha256(f"{run}{i}".encode()).hexdigest(),
        }
        for i in range(n)
    ]


async def post_events(stack: Stack, city: int, stream: str, events: list[dict[str, Any]]) -> None:
    source = f"node-{city}"
    headers = {"Authorization": f"Bearer {stack.demo_tokens[source]}"}
    body = {"source": source, "events": events}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{stack.base_url}/api/v1/ingest/{stream}", json=body, headers=headers) as resp,
    ):
        assert resp.status == 202, await resp.text()


def burst_fingerprint(city: int, staff: str) -> str:
    return fingerprint("staff_bad_review_burst", {"city": str(city), "staff": staff})


async def fire_burst(stack: Stack, city: int, staff: str) -> str:
    """Send a bad-review burst through the gateway and wait until its alert fires; the fingerprint."""
    await post_events(stack, city, "evaluation", bad_reviews(stack, city, staff))
    fp = burst_fingerprint(city, staff)

    async def firing() -> bool:
        raw = await stack.redis.hget(ACTIVE_KEY, fp)
        return raw is not None and json.loads(raw)["state"] == "firing"

    await eventually(firing, timeout_s=30)
    return fp


async def sse_events(resp: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of a Server-Sent Events response, as they arrive."""
    event, data = "", ""
    async for raw in resp.content:
        line = raw.decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif not line and event:
            yield event, json.loads(data)
            # A blank line ends one event; a keep-alive comment before the next must not repeat this one.
            event, data = "", ""
