"""A ClickHouse client that works the same on chDB and on a server.

clickhouse-connect has no async client for chDB, and chDB allows one engine
per process, so every call runs on one dedicated thread: the event loop never
blocks and chDB never sees two calls at once.

On a cluster, inserts into Distributed tables are made synchronous: by default
ClickHouse acknowledges them once queued on the node that took them, and the
worker commits Kafka offsets as soon as a write returns, so a queued batch lost
with that node would be lost for good.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import clickhouse_connect

T = TypeVar("T")

#: The synchronous-insert setting took its current name in late 2023 (ClickHouse PR #55978, in 23.11 at the
#: latest); the old name stays an alias and is the only one older servers know.
FOREGROUND_INSERT = "distributed_foreground_insert"
FOREGROUND_INSERT_BEFORE_23_11 = "insert_distributed_sync"


def foreground_insert_setting(server_version: str | None) -> str:
    """The name under which `server_version` knows the synchronous Distributed insert setting."""
    try:
        major, minor = (int(part) for part in (server_version or "").split(".")[:2])
    except ValueError:
        return FOREGROUND_INSERT_BEFORE_23_11  # unknown version: the name every release understands
    return FOREGROUND_INSERT if (major, minor) >= (23, 11) else FOREGROUND_INSERT_BEFORE_23_11


def spill_settings(spill_bytes: int) -> dict[str, int]:
    """Session settings that send a GROUP BY or ORDER BY holding more than `spill_bytes` to disk (0: never).

    The rules' and indicators' queries group a whole day of tickets: without these their memory grows with the
    day's rows, and chDB's allocator keeps what a query's peak took. A spilled query is slower, never refused.
    """
    return {"max_bytes_before_external_group_by": spill_bytes, "max_bytes_before_external_sort": spill_bytes}


def chdb_cache_settings(cache_bytes: int) -> dict[str, int]:
    """chDB server settings bounding the caches that grow with the data read (each defaults to 5 GiB)."""
    return {name: cache_bytes for name in ("mark_cache_size", "primary_index_cache_size", "index_mark_cache_size")}


class InjectedFault(RuntimeError):
    """A write refused on purpose, to show what the pipeline does while ClickHouse cannot take writes."""


class ClickHouse:
    def __init__(
        self,
        dsn: str,
        database: str,
        cluster: str | None = None,
        *,
        query_settings: Mapping[str, Any] | None = None,
        engine_settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.dsn = dsn
        self.database = database
        self.cluster = cluster
        #: Settings of this client's session, sent with every query (memory caps, spilling to disk).
        self.query_settings = dict(query_settings or {})
        #: Server settings of the in-process chDB engine (its caches, its memory ceiling); a ClickHouse server
        #: takes these from its own configuration (docker/clickhouse), so they are ignored there.
        self.engine_settings = dict(engine_settings or {})
        self._client: Any = None
        self._insert_settings: dict[str, Any] | None = None  # set by open() on a cluster
        self._fail_writes_until = 0.0  # monotonic; see fail_writes_for
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")

    @property
    def is_chdb(self) -> bool:
        return self.dsn.startswith("chdb:")

    def open(self) -> None:
        """Connect and make sure the database exists (blocking; call before serving)."""
        options: dict[str, Any] = (
            {"chdb_options": self.engine_settings} if self.is_chdb and self.engine_settings else {}
        )
        client = clickhouse_connect.get_client(dsn=self.dsn, settings=self.query_settings, **options)
        if self.cluster is None:
            client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        else:
            # On every node: the ON CLUSTER migrations create tables in it there.
            client.command(f"CREATE DATABASE IF NOT EXISTS {self.database} ON CLUSTER {self.cluster}")
            self._insert_settings = {foreground_insert_setting(client.server_version): 1}
        client.database = self.database
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self._executor.shutdown(wait=True)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- blocking calls, run on the ClickHouse thread -----------------------------
    def _query(self, sql: str, parameters: dict[str, Any] | None) -> list[tuple[Any, ...]]:
        return list(self._client.query(sql, parameters=parameters).result_rows)

    def fail_writes_for(self, seconds: float) -> None:
        """Fault injection: every insert fails for the next `seconds` (reads go on), as when the server is down."""
        self._fail_writes_until = time.monotonic() + seconds

    def _insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if time.monotonic() < self._fail_writes_until:
            raise InjectedFault(f"writes to {table} refused by fault injection")
        self._client.insert(table, rows, column_names=list(columns), settings=self._insert_settings)

    def _command(self, sql: str) -> Any:
        return self._client.command(sql)

    # -- async surface -------------------------------------------------------------
    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return await self.run(self._query, sql, parameters)

    async def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        await self.run(self._insert, table, rows, columns)

    async def command(self, sql: str) -> Any:
        return await self.run(self._command, sql)

    def command_sync(self, sql: str) -> Any:
        return self._client.command(sql)

    def query_sync(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._query(sql, parameters)
