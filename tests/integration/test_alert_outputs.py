"""Alert notices reach the alerts topic, ClickHouse history and Redis, on the real embedded stack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pydantic_core
import pytest

from connectors.alert_outputs import ACTIVE_KEY, CHANNEL, AlertOutputs
from connectors.kafka import topics as kafka_conn
from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation
from tests.integration.helpers import eventually, read_topic

pytestmark = pytest.mark.integration


async def test_a_firing_then_resolved_alert_is_recorded_and_shown_live(stack) -> None:
    """Firing: topic, history and Redis active set; resolved: history, and gone from the active set.

    Viewers hear both."""
    producer = stack.producer

    async def send_all(topic: str, items: list[tuple[bytes, bytes]]) -> None:
        await kafka_conn.send_all(producer, topic, items)

    outputs = AlertOutputs(send_all, stack.ch, stack.redis, stack.metrics)
    book = AlertBook()
    book.register_rule("it_long_wait", severity="warning")
    group = {"city": "440100", "hall": "H440106001"}
    t0 = datetime.now(UTC).replace(microsecond=0)
    pubsub = stack.redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    await pubsub.get_message(timeout=1)  # the subscribe confirmation

    fired = book.observe(Observation("it_long_wait", group, t0, True, False, 2400.0, {"wait_p90_s": 2400}))
    await outputs.publish(fired, book.active())
    fingerprint = fired[0].alert.fingerprint
    assert json.loads(await stack.redis.hget(ACTIVE_KEY, fingerprint))["state"] == "firing"

    resolved = book.observe(Observation("it_long_wait", group, t0 + timedelta(minutes=5), False, True, 600.0))
    await outputs.publish(resolved, book.active())
    assert await stack.redis.hget(ACTIVE_KEY, fingerprint) is None

    heard = []
    for _ in range(2):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2)
        heard.append(json.loads(message["data"])["kind"])
    assert heard == ["firing", "resolved"]
    await pubsub.aclose()

    rows = await stack.ch.query(
        "SELECT kind, city_code, group_keys['hall'] FROM alert_notices FINAL "
        "WHERE fingerprint = {f:String} ORDER BY at",
        {"f": fingerprint},
    )
    assert rows == [("firing", 440100, "H440106001"), ("resolved", 440100, "H440106001")]

    async def on_topic() -> list | None:
        kinds = [
            pydantic_core.from_json(m.value)["kind"]
            for m in await read_topic(stack.bootstrap, "alerts")
            if m.key == fingerprint.encode()
        ]
        return kinds if len(kinds) == 2 else None

    assert await eventually(on_topic) == ["firing", "resolved"]
    # The same notices published again (a redelivery) leave one history row each.
    await outputs.publish(fired + resolved, book.active())
    again = await stack.ch.query(
        "SELECT count() FROM alert_notices FINAL WHERE fingerprint = {f:String}", {"f": fingerprint}
    )
    assert again[0][0] == 2
