"""The center's rule feed: raw batches in, the valid events handed to the rules, everything else skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from streams.ingest.batches import RawMessage
from streams.metrics import Metrics
from streams.models.wire import encode_batch_parts
from streams.registry.generate import generate
from streams.rule_feed import RuleFeed
from streams.validation import TimeLimits, Validator

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
REGISTRY = generate(halls=300)


def _window_event(i: int, **overrides: Any) -> dict[str, Any]:
    hall = REGISTRY.halls_in_city(440100)[0]
    window = next(w for w in REGISTRY.windows() if w.hall_id == hall.hall_id)
    event = {
        "event_id": f"rf-{i}",
        "source": "node-440100",
        "seq": i,
        "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
        "sent_at": NOW.isoformat(),
        "type": "window_opened",
        "hall_id": hall.hall_id,
        "window_id": window.window_id,
    }
    return {**event, **overrides}


def _message(offset: int, value: bytes, topic: str = "raw.window") -> RawMessage:
    return RawMessage(topic, 0, offset, value)


async def test_valid_events_reach_the_rules_and_the_rest_is_skipped() -> None:
    """Valid records go to the rules per stream; bad records, junk and a batch on the wrong topic are skipped."""
    handed: list[tuple[str, list[str]]] = []

    async def rules(stream: str, events: list[tuple[Any, datetime, int]]) -> None:
        handed.append((stream, [ev.event_id for ev, _, _ in events]))

    metrics = Metrics(CollectorRegistry())
    feed = RuleFeed(
        Validator(REGISTRY, TimeLimits(timedelta(days=7), timedelta(minutes=5))), rules, metrics, clock=lambda: NOW
    )
    good = encode_batch_parts(
        stream="window",
        source="node-440100",
        batch_id="b1",
        received_at=None,
        events=[_window_event(1), _window_event(2, hall_id="nowhere"), _window_event(3)],
    )
    wrong_topic = encode_batch_parts(
        stream="queue", source="node-440100", batch_id="b2", received_at=None, events=[_window_event(4)]
    )
    await feed.process([_message(0, good), _message(1, b"\x00junk"), _message(2, wrong_topic)])
    assert handed == [("window", ["rf-1", "rf-3"])]
    assert metrics.registry.get_sample_value("govpulse_rule_feed_events_total", {"stream": "window"}) == 2
