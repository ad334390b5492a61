"""The ingest step's EventStore on ClickHouse: rows from connectors/clickhouse/rows.py, recovery reads in SQL.

An insert returns once ClickHouse has the rows: one INSERT per table and write,
which the raw tables keep in a single part (they are partitioned by
ingested_at, one value per INSERT), so it is stored whole or not at all; on a
cluster the client makes Distributed inserts synchronous
(connectors/clickhouse/client.py), and a city's rows all go to its one shard.
"""

from __future__ import annotations

from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.rows import ROW_BUILDERS, Row
from streams.definitions import TOPIC_TO_STREAM
from streams.ingest.port import Origin
from streams.validation import Accepted

_THIS_GENERATION = "_topic = {topic:String} AND _generation = {generation:UInt32} AND _partition = {partition:UInt16}"


class ClickHouseEventStore:
    def __init__(self, ch: ClickHouse) -> None:
        self.ch = ch

    def encode(self, table: str, accepted: list[Accepted], origin: Origin) -> list[Row]:
        return ROW_BUILDERS[table].rows(accepted, origin)

    async def insert(self, table: str, rows: list[Row]) -> None:
        await self.ch.insert(table, rows, ROW_BUILDERS[table].columns)

    async def high_water_marks(self, topic: str, generation: int, partition: int) -> dict[tuple[str, int], int]:
        params = {"topic": topic, "generation": generation, "partition": partition}
        marks: dict[tuple[str, int], int] = {}
        for table in TOPIC_TO_STREAM[topic].tables:
            rows = await self.ch.query(
                f"SELECT city_code, max(_offset) FROM {table} WHERE {_THIS_GENERATION} GROUP BY city_code", params
            )
            for city, offset in rows:
                marks[(table, int(city))] = int(offset)
        return marks

    async def recent_ids(self, topic: str, generation: int, partition: int, limit: int) -> list[tuple[str, int]]:
        params = {"topic": topic, "generation": generation, "partition": partition, "limit": limit}
        out: list[tuple[str, int]] = []
        for table in TOPIC_TO_STREAM[topic].tables:
            recent = await self.ch.query(
                f"SELECT event_id, if(_generation = {{generation:UInt32}}, toInt64(_offset), -1) FROM {table}"
                " WHERE _topic = {topic:String} AND _partition = {partition:UInt16}"
                " ORDER BY ingested_at DESC, _offset DESC LIMIT {limit:UInt32}",
                params,
            )
            out += [(event_id, int(offset)) for event_id, offset in reversed(recent)]
        return out
