"""Agent: raw.* batches → validation → ClickHouse, rejected records → dead-letter topic."""

from __future__ import annotations

import faust

from streams.ingest import IngestProcessor, RawMessage
from streams.models import STREAMS


def attach(app: faust.App, processor: IngestProcessor, *, batch_messages: int, flush_s: float) -> None:
    topic = app.topic(*(spec.topic for spec in STREAMS.values()), value_serializer="raw", key_serializer="raw")

    @app.agent(topic, name="ingest")
    async def ingest(stream: faust.StreamT) -> None:
        # take_events acks the list only after this body returns, so offsets
        # are committed only for batches already written to ClickHouse.
        async for events in stream.take_events(batch_messages, within=flush_s):
            await processor.process(
                [
                    RawMessage(e.message.topic, e.message.partition, e.message.offset, e.value, e.message.timestamp, e.message.headers)
                    for e in events
                ]
            )

    @app.on_partitions_revoked.connect
    async def forget_revoked(sender: faust.App, revoked: set, **_: object) -> None:
        processor.forget([(tp.topic, tp.partition) for tp in revoked])
