"""Store the verdict the national upload's quality checks gave each record, for the pass-rate indicator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.clickhouse.client import ClickHouse
from streams.national.checks import DEFAULT_MAX_DELAY, Checked, check_set
from streams.national.source import read_period
from streams.periods import Period

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


async def check_period(
    ch: ClickHouse,
    period: Period,
    max_delay: timedelta = DEFAULT_MAX_DELAY,
    at: datetime | None = None,
    store: bool = True,
) -> list[Checked]:
    """Read the period's upload set, check every record and (with `store`) keep the verdicts; the checked records.

    `govpulse national export` and every report run this, so the pass rate reads what the last check said.
    """
    found = await read_period(ch, period)
    checked = check_set(found.evaluations, found.case_steps, found.history, max_delay)
    if store:
        await store_checks(ch, checked, at or datetime.now(UTC))
    return checked
