"""Agent: raw.* batches → validation → ClickHouse, rejected records → dead-letter topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import faust
from faust.types import TP, EventT

from agents.app import batches
from streams.definitions import STREAMS
from streams.ingest.batches import RawMessage
from streams.ingest.processor import IngestProcessor


def attach(app: faust.App, processor: IngestProcessor, *, batch_messages: int, flush_s: float) -> None:
    topic = app.topic(*(spec.topic for spec in STREAMS.values()), value_serializer="raw", key_serializer="raw")

    @app.agent(topic, name="ingest")
    async def ingest(stream: faust.StreamT[Any]) -> None:
        async for events in batches(stream, batch_messages, flush_s):
            # take_events acks the list as this body returns, before its write is done: one more reference per
            # message makes the ack after the write the last one, and only the last one lets the offset be committed.
            for event in events:
                event.message.incref()

            def acknowledge(events: Sequence[EventT[Any]] = events) -> None:
                for event in events:
                    event.ack()

            messages = [
                RawMessage(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.value,
                    e.message.timestamp,
                    e.message.headers,
                )
                for e in events
            ]
            await processor.write_behind(messages, acknowledge)

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # as on_partitions_revoked below
    async def share_assigned(sender: faust.App, assigned: set[TP], **_: Any) -> None:
        processor.hold([(tp.topic, tp.partition) for tp in assigned])

    # mode types a receiver as Callable[[T, VarArg(), NamedArg(BaseSignalT, "signal"), KwArg()], ...], which mypy
    # matches with no def at all, this one's exact form included.
    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_revoked(sender: faust.App, revoked: set[TP], **_: Any) -> None:
        await processor.settle()  # the write in flight may hold rows of these partitions: let it land first
        processor.forget([(tp.topic, tp.partition) for tp in revoked])
