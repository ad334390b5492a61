"""Agent: raw.* batches → validation → event rules, in the center's own consumer group."""

from __future__ import annotations

from typing import Any

import faust

from agents.app import batches
from streams.definitions import STREAMS
from streams.ingest.batches import RawMessage
from streams.rule_feed import RuleFeed


def attach(app: faust.App, feed: RuleFeed, *, batch_messages: int, flush_s: float) -> None:
    topic = app.topic(*(spec.topic for spec in STREAMS.values()), value_serializer="raw", key_serializer="raw")

    @app.agent(topic, name="rule_feed")
    async def rule_feed(stream: faust.StreamT[Any]) -> None:
        # Acked after the rules have seen the batch: a crash replays it, and the rules count an event id once.
        async for events in batches(stream, batch_messages, flush_s):
            await feed.process(
                [
                    RawMessage(
                        e.message.topic, e.message.partition, e.message.offset, e.value, headers=e.message.headers
                    )
                    for e in events
                ]
            )
