"""A raw message as the consumer hands it over, and the batch and verdicts read from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.definitions import Stream
from streams.metrics import Metrics
from streams.models.wire import Batch, BatchDecodeError, decode_batch
from streams.validation import Accepted, Rejection, Validator
from streams.vetted import BatchSeal, open_sealed, rebuild

#: Called with (stream, [(event, occurred_at, city_code)]) for the events of a list of messages: the event rules' feed.
AcceptedHook = Callable[[str, list[tuple[Any, datetime, int]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RawMessage:
    topic: str
    partition: int
    offset: int
    value: bytes
    timestamp: float | None = None  # seconds since the epoch, set by the producer
    headers: Any = None  # as the consumer gives them: (name, value) pairs or a mapping


def read_batch(
    validator: Validator, seal: BatchSeal | None, spec: Stream, msg: RawMessage, now: datetime, metrics: Metrics
) -> tuple[Batch, list[Accepted], list[Rejection]]:
    """One message's batch and verdicts: rebuilt as the gateway validated it under its seal, else validated in full.

    Raises BatchDecodeError for a message that is no batch of this topic's stream.
    """
    if seal is not None and seal.is_sealed(msg.value, msg.headers):
        batch = open_sealed(msg.value)
        if batch is not None and batch.stream == spec.name:
            accepted = rebuild(batch)
            if accepted is not None:
                metrics.batches_sealed.labels(msg.topic).inc()
                return batch, accepted, []
    batch = decode_batch(msg.value)  # from the bytes again: a failed rebuild may have left its dicts half converted
    if batch.stream != spec.name:
        raise BatchDecodeError(f"batch of stream {batch.stream} on topic {msg.topic}")
    accepted, rejected = validator.validate(spec, batch.source, batch.events, now)
    return batch, accepted, rejected
