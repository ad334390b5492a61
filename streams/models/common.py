"""Fields every streamed record carries, whatever its stream."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

#: Ids travel in URLs, Kafka keys and ClickHouse keys: keep them short and plain.
Ident = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
ShortText = Annotated[str, Field(max_length=200)]


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


#: An aware time, kept in UTC. The offset a node sent is no information (ClickHouse stores UTC), and times that
#: share one tzinfo compare and convert in C: with pydantic's own tzinfo every comparison in the rules and every
#: conversion for ClickHouse calls back into it, which the worker paid several times per event.
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]


class EventBase(BaseModel):
    """The envelope fields shared by every event.

    `event_id` is the idempotency key; `seq` is the sender's own counter so that
    gaps show missing data; both timestamps must carry a zone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    event_id: Ident
    source: Ident
    seq: int = Field(ge=0, le=2**63 - 1)
    occurred_at: UtcDatetime
    sent_at: UtcDatetime
