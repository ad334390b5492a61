"""An EventStore in memory, for tests: the accepted events per table, and inserts that fail on demand."""

from __future__ import annotations

from dataclasses import dataclass

from streams.definitions import TOPIC_TO_STREAM
from streams.ingest.port import Origin
from streams.validation import Accepted


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored row: the accepted event and where it was read from."""

    accepted: Accepted
    origin: Origin

    @property
    def event_id(self) -> str:
        return self.accepted.event.event_id

    @property
    def city_code(self) -> int:
        return self.accepted.city_code


class MemoryEventStore:
    """Rows per table, in insert order; `fail_next` makes that many inserts raise, as a store that is down."""

    def __init__(self) -> None:
        self.tables: dict[str, list[StoredEvent]] = {}
        self.fail_next = 0

    def encode(self, table: str, accepted: list[Accepted], origin: Origin) -> list[StoredEvent]:
        return [StoredEvent(acc, origin) for acc in accepted]

    async def insert(self, table: str, rows: list[StoredEvent]) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("the event store is down")
        self.tables.setdefault(table, []).extend(rows)

    async def high_water_marks(self, topic: str, generation: int, partition: int) -> dict[tuple[str, int], int]:
        marks: dict[tuple[str, int], int] = {}
        for table in TOPIC_TO_STREAM[topic].tables:
            for row in self._rows(table, topic, partition):
                if row.origin.generation == generation:
                    key = (table, row.city_code)
                    marks[key] = max(row.origin.offset, marks.get(key, -1))
        return marks

    async def recent_ids(self, topic: str, generation: int, partition: int, limit: int) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        for table in TOPIC_TO_STREAM[topic].tables:
            rows = sorted(
                self._rows(table, topic, partition),
                key=lambda row: (row.origin.ingested_at, row.origin.offset),
                reverse=True,
            )[:limit]
            out += [
                (row.event_id, row.origin.offset if row.origin.generation == generation else -1)
                for row in reversed(rows)
            ]
        return out

    def _rows(self, table: str, topic: str, partition: int) -> list[StoredEvent]:
        return [
            row for row in self.tables.get(table, []) if row.origin.topic == topic and row.origin.partition == partition
        ]
