"""The port through which the ingest step stores accepted events and reads back what it stored.

The processor never sees a table's columns or a query: it hands a store the
accepted events of one message with their origin, and after a restart or a
rebalance asks which offsets and ids of a partition are already stored. The
ClickHouse store is connectors/clickhouse/event_store.py; an in-memory one
for tests is streams/ingest/memory_store.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from streams.validation import Accepted

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a batch was read from, and when it was received and written."""

    topic: str
    generation: int
    partition: int
    offset: int
    received_at: datetime | None
    ingested_at: datetime


class EventStore(Protocol[R]):
    """Accepted events, stored as rows of the raw table of their kind (`streams.definitions`), `R` being a row.

    What the processor's guarantees rest on:

    - `insert` returns only once its rows are durably stored. A failed insert raises; the processor retries it
      for as long as it takes, and the offsets of a message are committed only after the insert of its rows
      returned, so nothing accepted is lost and no offset is committed before its write.
    - Within one insert, the rows of one city are stored all or none (a cluster splits an insert by city
      across shards, and a crash may leave one shard written and another not): the high-water marks are
      therefore kept, and exact, per table and city.
    - `encode` is pure and does no I/O: the processor encodes the next messages while the last insert runs.
    - The reads see every insert that returned.
    """

    def encode(self, table: str, accepted: list[Accepted], origin: Origin) -> list[R]:
        """The rows of `accepted`, events of `table`'s kind from the message at `origin`, ready for `insert`."""
        ...

    async def insert(self, table: str, rows: list[R]) -> None:
        """Store `rows` in `table`; returns once they are durably stored, raises when that is not certain."""
        ...

    async def high_water_marks(self, topic: str, generation: int, partition: int) -> dict[tuple[str, int], int]:
        """(table, city_code) → the highest offset stored from this generation and partition of `topic`.

        Over every table of the topic's stream; a table or city with nothing stored has no entry.
        """
        ...

    async def recent_ids(self, topic: str, generation: int, partition: int, limit: int) -> list[tuple[str, int]]:
        """(event_id, offset) of the events last stored from `partition` of `topic`, in any generation.

        Up to `limit` per table of the topic's stream, the last ingested (by ingested_at, then offset). The
        offset is -1 for an id an earlier generation stored: a node resending it after the broker was recreated
        sends a duplicate, not a replay. Listed table after table in the stream's order and, within a table,
        oldest first: the order in which to remember them.
        """
        ...
