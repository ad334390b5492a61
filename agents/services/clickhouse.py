"""ClickHouse: opened and migrated at start, closed at stop; and the drill that makes its writes fail for a while."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog

from agents.services.base import running, stop_step
from agents.settings import Settings
from connectors.clickhouse.client import ClickHouse, chdb_cache_settings, spill_settings
from connectors.clickhouse.generations import current_generations
from connectors.clickhouse.migrations import migrate
from connectors.clickhouse.rows import ROW_BUILDERS
from streams.definitions import STREAMS

if TYPE_CHECKING:
    from agents.services.kafka import KafkaTopics

log = structlog.get_logger(__name__)
MB = 1024 * 1024


def client_for(settings: Settings) -> ClickHouse:
    """The ClickHouse `settings` name (chDB under the data dir, or GOVPULSE_CLICKHOUSE_DSN's server), not opened yet.

    With the memory settings every process uses (GROUP BY / ORDER BY spilled to disk, chDB's caches capped): the
    stack's store and the one-off commands (agents/cli/store.py) open it the same way.
    """
    dsn = f"chdb://{settings.chdb_path}" if settings.chdb_path is not None else settings.clickhouse_dsn
    return ClickHouse(
        dsn,
        settings.clickhouse_database,
        cluster=settings.clickhouse_cluster or None,
        query_settings=spill_settings(settings.clickhouse_spill_mb * MB),
        engine_settings=chdb_cache_settings(settings.chdb_cache_mb * MB),
    )


class ClickHouseStore:
    """The ClickHouse client of the worker and the center (chDB in this process, or a server)."""

    name = "clickhouse"

    def __init__(self, settings: Settings, topics: KafkaTopics) -> None:
        self.settings = settings
        self.topics = topics
        self._client: ClickHouse | None = None
        self._generations: dict[str, int] | None = None

    @property
    def client(self) -> ClickHouse:
        return running(self._client, "ClickHouse")

    @property
    def generations(self) -> dict[str, int]:
        """Per raw topic, the broker generation its stored offsets belong to (a fresh broker starts a new one)."""
        return running(self._generations, "ClickHouse")

    async def start(self) -> None:
        s = self.settings
        if s.chdb_path is not None:
            s.chdb_path.mkdir(parents=True, exist_ok=True)
        self._client = ch = client_for(s)
        await ch.run(ch.open)
        applied = await ch.run(migrate, ch, ch.cluster)
        raw_topics = [spec.topic for spec in STREAMS.values()]
        self._generations = await ch.run(current_generations, ch, raw_topics, self.topics.created)
        log.info("clickhouse_ready", dsn=ch.dsn.split("@")[-1], migrations_applied=applied)

    async def stop(self) -> None:
        if self._client is not None:
            await stop_step(self.name, partial(asyncio.to_thread, self._client.close))

    async def row_counts(self) -> dict[str, Any]:
        """Rows stored per table: what an operator checks first when data seems missing."""
        tables = [*ROW_BUILDERS, "rejections"]
        sql = " UNION ALL ".join(f"SELECT '{t}', count() FROM {t}" for t in tables)
        rows = await self.client.query(sql)
        return {"rows": {name: int(count) for name, count in rows}}


class ClickHouseFault:
    """GOVPULSE_FAULT_CLICKHOUSE_WRITES=START:SECONDS: every write fails for SECONDS, START seconds after the start."""

    name = "clickhouse fault"

    def __init__(self, spec: str, clickhouse: ClickHouseStore) -> None:
        self.spec = spec
        self.clickhouse = clickhouse
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        start_s, seconds = (float(x) for x in self.spec.split(":"))
        self._task = asyncio.create_task(self._inject(start_s, seconds), name="clickhouse-fault")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _inject(self, start_s: float, seconds: float) -> None:
        await asyncio.sleep(start_s)
        log.warning("fault_injected", target="clickhouse_writes", seconds=seconds)
        self.clickhouse.client.fail_writes_for(seconds)
