"""The ClickHouse a one-off command works on, opened as `govpulse up` opens it.

The embedded stack's chDB (the stack stopped: chDB is one process's) or the server of GOVPULSE_CLICKHOUSE_DSN,
with the same memory settings as the running stack (GROUP BY / ORDER BY spilled to disk, chDB's caches capped),
so a report or a backtest over a year does not hold the year in memory; migrated, so an older data dir has every
table the command reads.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agents.settings import Settings

if TYPE_CHECKING:
    from connectors.clickhouse.client import ClickHouse


async def open_store(settings: Settings) -> ClickHouse:
    from agents.services.clickhouse import client_for
    from connectors.clickhouse.migrations import migrate

    ch = client_for(settings)
    await ch.run(ch.open)
    try:
        await ch.run(migrate, ch, ch.cluster)
    except BaseException:
        await asyncio.to_thread(ch.close)
        raise
    return ch
