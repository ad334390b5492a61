"""Store the verdict the national upload's quality checks gave each record, for the pass-rate indicator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from connectors.clickhouse.client import ClickHouse
from streams.national.checks import Checked

COLUMNS = ("record_id", "kind", "city_code", "dept_id", "occurred_at", "passed", "reasons", "checked_at")
#: Rows per insert: a year's set is millions of records, and one insert of all of them would hold them twice.
CHUNK = 50_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _row(c: Checked, at: datetime) -> tuple[Any, ...]:
    raw = c.raw
    occurred = raw.get("occurred_at")
    city = raw.get("city_code")
    return (
        c.record_id,
        c.kind,
        int(city) if isinstance(city, int) or (isinstance(city, str) and city.isdigit()) else 0,
        str(raw.get("dept_id") or ""),
        occurred if isinstance(occurred, datetime) else _EPOCH,
        int(c.passed),
        sorted({r.code for r in c.reasons}),
        at,
    )


async def store_checks(ch: ClickHouse, checked: Sequence[Checked], at: datetime) -> int:
    """Write one row per checked record, all stamped `at`; returns the rows written."""
    for first in range(0, len(checked), CHUNK):
        rows = [_row(c, at) for c in checked[first : first + CHUNK]]
        await ch.insert("national_checks", rows, COLUMNS)
    return len(checked)
