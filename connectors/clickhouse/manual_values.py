"""Write an upload's manual indicator values to ClickHouse and read them back with their history.

Rows are only ever added (migrations/0009_manual_values.sql): a correction is a
new upload, and the indicator's SQL (streams/indicators/manual_sql.py) and
`streams.manual.history` both take the latest upload per entity and period.
One upload is one insert, so its values land together or not at all.
"""

from __future__ import annotations

from typing import Any, Protocol

from streams.indicators.manual_sql import TABLE
from streams.manual.history import StoredValue
from streams.manual.upload import Upload

COLUMNS = (
    "indicator",
    "entity_kind",
    "entity",
    "city_code",
    "period_label",
    "period_start",
    "period_end",
    "value",
    "note",
    "upload_id",
    "uploaded_by",
    "role",
    "uploaded_at",
    "file_name",
    "file_sha256",
    "line",
)
#: Most rows one history read returns; enough for every city and department of a few years of one indicator.
MAX_ROWS = 20_000


class Writer(Protocol):
    async def insert(self, table: str, rows: Any, columns: Any) -> None: ...


class Reader(Protocol):
    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...


async def store(ch: Writer, upload: Upload) -> int:
    """Insert the values the upload decided to store; how many."""
    rows = [
        (
            v.indicator,
            v.entity_kind,
            v.entity,
            v.city_code,
            v.period.label,
            v.period.first_day,
            v.period.last_day,
            v.value,
            v.note,
            upload.upload_id,
            upload.uploaded_by,
            upload.role,
            upload.uploaded_at,
            upload.file_name,
            upload.file_sha256,
            v.line,
        )
        for v in upload.to_store
    ]
    if rows:
        await ch.insert(TABLE, rows, COLUMNS)
    return len(rows)


async def read(
    ch: Reader, *, indicator: str = "", entity: str = "", city: str | None = None, limit: int = MAX_ROWS
) -> list[StoredValue]:
    """Every stored row (superseded ones included) of `indicator` and `entity` when given, within `city` when given."""
    where = ["1"]
    params: dict[str, Any] = {"limit": limit}
    if indicator:
        where.append("indicator = {indicator:String}")
        params["indicator"] = indicator
    if entity:
        where.append("entity = {entity:String}")
        params["entity"] = entity
    if city is not None:
        where.append("city_code = {city:UInt32}")
        params["city"] = int(city)
    rows = await ch.query(
        f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE {' AND '.join(where)}"
        " ORDER BY indicator, entity_kind, entity, period_start, uploaded_at DESC LIMIT {limit:UInt32}",
        params,
    )
    return [StoredValue(*row) for row in rows]
