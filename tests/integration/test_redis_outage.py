"""Redis down: alerts still fire and their history and topic stay complete; open boards catch up when it returns."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from tests.integration.center import add_user, bad_reviews, burst_fingerprint, post_events, signed_in, sse_events
from tests.integration.helpers import eventually, read_topic

pytestmark = pytest.mark.integration
OUTAGE_S = 30.0


async def _in_history(stack, fp: str) -> bool:
    rows = await stack.ch.query(
        "SELECT count() FROM alert_notices FINAL WHERE fingerprint = {f:String} AND kind = 'firing'", {"f": fp}
    )
    return rows[0][0] == 1


async def _on_topic(stack, fp: str) -> bool:
    return any(
        m.key == fp.encode() and json.loads(m.value)["kind"] == "firing"
        for m in await read_topic(stack.bootstrap, "alerts")
    )


async def test_redis_down_loses_no_alert_and_open_boards_catch_up(stack, claim_city) -> None:
    city = claim_city()
    board = await signed_in(stack, add_user(stack, "rd-province", "province_operator"))
    valkey = next(child for child in stack.children if child.name == "valkey")
    fp = burst_fingerprint(city, "S-RD-1")
    try:
        async with board.get("/api/v1/alerts/stream") as stream:
            events = sse_events(stream)
            assert (await anext(events))[0] == "snapshot"
            await asyncio.sleep(1.5)  # the session reaches the append-only file (fsync every second)
            await asyncio.to_thread(valkey.stop)
            back_at = time.monotonic() + OUTAGE_S
            try:
                await post_events(
                    stack, city, "evaluation", bad_reviews(stack, city, "S-RD-1")
                )  # the gateway needs no Redis
                await eventually(lambda: _in_history(stack, fp), timeout_s=30)  # fired, and recorded
                await eventually(lambda: _on_topic(stack, fp), timeout_s=30)
                async with board.get("/api/v1/alerts") as resp:
                    assert resp.status == 503  # sessions cannot be checked: "retry", not "sign in"
            finally:
                await asyncio.sleep(max(0.0, back_at - time.monotonic()))
                await asyncio.to_thread(valkey.start)

            # The open board's feed resubscribes and gets a snapshot holding the alert it missed.
            while True:
                name, event = await asyncio.wait_for(anext(events), 45)
                if name == "snapshot" and fp in {a["fingerprint"] for a in event["alerts"]}:
                    break
        async with board.get("/api/v1/alerts") as resp:
            assert resp.status == 200  # the session survived the restart
            assert fp in {a["fingerprint"] for a in (await resp.json())["alerts"]}
    finally:
        await board.close()
