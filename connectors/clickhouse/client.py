"""A ClickHouse client that works the same on chDB and on a server.

clickhouse-connect has no async client for chDB, and chDB allows one engine
per process, so every call runs on one dedicated thread: the event loop never
blocks and chDB never sees two calls at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import clickhouse_connect

T = TypeVar("T")


class InjectedFault(RuntimeError):
    """A write refused on purpose, to show what the pipeline does while ClickHouse cannot take writes."""


class ClickHouse:
    def __init__(self, dsn: str, database: str) -> None:
        self.dsn = dsn
        self.database = database
        self._client: Any = None
        self._fail_writes_until = 0.0  # monotonic; see fail_writes_for
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")

    @property
    def is_chdb(self) -> bool:
        return self.dsn.startswith("chdb:")

    def open(self) -> None:
        """Connect and make sure the database exists (blocking; call before serving)."""
        client = clickhouse_connect.get_client(dsn=self.dsn)
        client.command(f"CREATE DATABASE IF NOT EXISTS {self.database}")
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
        self._client.insert(table, rows, column_names=list(columns))

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
