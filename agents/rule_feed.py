"""Agent: raw.* batches → validation → event rules, in the center's own consumer group."""

from __future__ import annotations

import faust

from streams.definitions import STREAMS
from streams.ingest.batches import RawMessage
from streams.rule_feed import RuleFeed


def attach(app: faust.App, feed: RuleFeed, *, batch_messages: int, flush_s: float) -> None:
    topic = app.topic(*(spec.topic for spec in STREAMS.values()), value_serializer="raw", key_serializer="raw")

    @app.agent(topic, name="rule_feed")
    async def rule_feed(stream: faust.StreamT) -> None:
        # Acked after the rules have seen the batch: a crash replays it, and the rules count an event id once.
        async for events in stream.take_events(batch_messages, within=flush_s):
            await feed.process(
                [
                    RawMessage(
                        e.message.topic, e.message.partition, e.message.offset, e.value, headers=e.message.headers
                    )
                    for e in events
                ]
            )
