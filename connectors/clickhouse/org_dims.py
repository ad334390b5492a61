"""Copy the parts of the registry that indicator queries need into ClickHouse."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from connectors.clickhouse.client import ClickHouse
from streams.registry.model import Registry

HALL_COLUMNS = ("hall_id", "name", "level", "city_code", "county_code", "wait_target_s", "windows_configured", "updated_at")


def hall_rows(registry: Registry, now: datetime) -> list[tuple[Any, ...]]:
    windows = Counter(w.hall_id for w in registry.entities("window"))
    return [
        (h.hall_id, h.name, h.level, h.city_code, h.county_code, h.wait_target_s, windows[h.hall_id], now)
        for h in registry.entities("hall")
    ]


async def sync_halls(ch: ClickHouse, registry: Registry) -> int:
    """Write every hall (ReplacingMergeTree keeps the newest row per hall); returns the count."""
    rows = hall_rows(registry, datetime.now(UTC))
    if rows:
        await ch.insert("org_halls", rows, HALL_COLUMNS)
    return len(rows)
