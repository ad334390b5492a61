"""The gateway's durable spool: every batch it answers 202 for, on local disk until its rows are in ClickHouse.

The embedded broker keeps messages in memory only, and dies with the
process. So in embedded mode the gateway writes each vetted batch here,
in SQLite in WAL mode with `synchronous=FULL` (the commit returns once the
write-ahead log is fsynced), before it sends the batch to the broker and
answers 202. A batch records where the broker put it (partition, offset);
it leaves the spool once the worker's consumer group has committed past
that offset, which the worker does only after the batch's rows are
written. At start, whatever is still here is sent again: the worker's
idempotence (event ids) makes a batch stored twice count once.

The spool is bounded by its size on disk; a full spool, a full disk or an
unwritable file raise SpoolUnavailable, which the gateway answers with 503.
A spool that cannot be read back at start raises SpoolCorrupt naming the
row, and the stack does not start on top of it.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    headers TEXT NOT NULL,
    partition INTEGER,
    offset INTEGER
)
"""
#: What one row costs beyond its key, value and headers, counted against the bound (SQLite's own overhead).
ROW_OVERHEAD_BYTES = 64


class SpoolUnavailable(Exception):
    """The spool cannot take a batch now (full, disk full, unwritable); the batch was not accepted."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class SpoolCorrupt(Exception):
    """The spool's file cannot be read back: the process must not start on top of it."""


@dataclass(frozen=True, slots=True)
class Spooled:
    """One batch held in the spool."""

    id: int
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def _size(key: bytes, value: bytes, headers: str) -> int:
    return len(key) + len(value) + len(headers) + ROW_OVERHEAD_BYTES


def _encode_headers(headers: list[tuple[str, bytes]]) -> str:
    return json.dumps([[name, value.hex()] for name, value in headers])


def _decode_headers(text: str) -> list[tuple[str, bytes]]:
    return [(str(name), bytes.fromhex(value)) for name, value in json.loads(text)]


class Spool:
    """Batches on local disk; every call runs on one thread of its own, so SQLite sees one writer."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._db: sqlite3.Connection | None = None
        self._bytes = 0
        self._rows = 0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool")

    @property
    def size_bytes(self) -> int:
        """Bytes the held batches count for against `max_bytes`."""
        return self._bytes

    @property
    def rows(self) -> int:
        return self._rows

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    # -- open: the file is read back whole, so a corrupt spool is found before anything is accepted -----------------
    async def open(self) -> list[Spooled]:
        """Open (or create) the spool and return every batch it still holds, oldest first.

        SpoolCorrupt if the file is not a readable spool, naming the row that failed.
        """
        held: list[Spooled] = await self._run(self._open)
        return held

    def _open(self) -> list[Spooled]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit returns once the WAL is fsynced, so a 202 survives a power cut, not just a crash.
            db.execute("PRAGMA synchronous=FULL")
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise SpoolCorrupt(f"{self.path}: SQLite's check failed: {'; '.join(map(str, problems[:5]))}")
            db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise SpoolCorrupt(f"{self.path}: not a readable spool ({exc})") from exc
        held: list[Spooled] = []
        size = 0
        try:
            rows = db.execute("SELECT id, topic, key, value, headers FROM batches ORDER BY id")
            for row in rows:
                held.append(self._read_row(row))
                size += _size(row[2], row[3], row[4])
        except sqlite3.DatabaseError as exc:
            after = f" after row {held[-1].id}" if held else ""
            raise SpoolCorrupt(f"{self.path}: cannot read the spool{after} ({exc})") from exc
        self._db, self._bytes, self._rows = db, size, len(held)
        return held

    def _read_row(self, row: tuple[Any, ...]) -> Spooled:
        row_id, topic, key, value, headers = row
        if not isinstance(topic, str) or not topic or not isinstance(key, bytes) or not isinstance(value, bytes):
            raise SpoolCorrupt(f"{self.path}: row {row_id}: topic, key or value is missing or of the wrong type")
        try:
            decoded = _decode_headers(headers)
        except (TypeError, ValueError) as exc:
            raise SpoolCorrupt(f"{self.path}: row {row_id}: headers are not readable ({exc})") from exc
        return Spooled(int(row_id), topic, key, value, decoded)

    # -- the gateway's path ----------------------------------------------------------------------------------------
    async def put(self, topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> int:
        """Hold a batch, durably (fsynced) before this returns; its row id. SpoolUnavailable if it cannot."""
        row_id: int = await self._run(self._put, topic, key, value, _encode_headers(headers))
        return row_id

    def _put(self, topic: str, key: bytes, value: bytes, headers: str) -> int:
        size = _size(key, value, headers)
        if self._bytes + size > self.max_bytes:
            raise SpoolUnavailable(
                "spool_full",
                f"the gateway's spool holds {self._bytes} of {self.max_bytes} bytes of batches not yet stored; "
                "retry later",
            )
        try:
            cursor = self._conn.execute(
                "INSERT INTO batches (topic, key, value, headers) VALUES (?, ?, ?, ?)", (topic, key, value, headers)
            )
        except sqlite3.Error as exc:
            # A full disk, a read-only file or directory, an I/O error: nothing was written.
            raise SpoolUnavailable("spool_unavailable", f"the gateway's spool cannot be written: {exc}") from exc
        self._bytes += size
        self._rows += 1
        return int(cursor.lastrowid or 0)

    async def placed(self, row_id: int, partition: int, offset: int) -> None:
        """Record where the broker put a held batch."""
        await self._run(self._placed, row_id, partition, offset)

    def _placed(self, row_id: int, partition: int, offset: int) -> None:
        self._conn.execute("UPDATE batches SET partition = ?, offset = ? WHERE id = ?", (partition, offset, row_id))

    async def drop(self, row_id: int) -> None:
        """Forget a batch that was not accepted after all (the broker refused it, so the node got a 503)."""
        await self._run(self._delete, "id = ?", (row_id,))

    # -- release: what the worker has committed ----------------------------------------------------------------------
    async def placements(self) -> list[tuple[str, int]]:
        """The (topic, partition) pairs of held batches the broker has placed."""
        rows: list[tuple[str, int]] = await self._run(self._placements)
        return rows

    def _placements(self) -> list[tuple[str, int]]:
        query = "SELECT DISTINCT topic, partition FROM batches WHERE partition IS NOT NULL ORDER BY topic, partition"
        return [(str(t), int(p)) for t, p in self._conn.execute(query)]

    async def release(self, topic: str, partition: int, committed: int) -> int:
        """Let go of the batches of a partition below the committed offset (their rows are stored); how many."""
        released: int = await self._run(
            self._delete, "topic = ? AND partition = ? AND offset < ?", (topic, partition, committed)
        )
        return released

    def _delete(self, where: str, params: tuple[Any, ...]) -> int:
        sizes = self._conn.execute(
            # `where` is one of this module's constants; the values are bound.
            f"SELECT count(*), coalesce(sum(length(key) + length(value) + length(headers)), 0) FROM batches "
            f"WHERE {where}",
            params,
        ).fetchone()
        self._conn.execute(f"DELETE FROM batches WHERE {where}", params)
        count, size = int(sizes[0]), int(sizes[1])
        self._rows -= count
        self._bytes -= size + count * ROW_OVERHEAD_BYTES
        return count

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the spool is not open")
        return self._db

    async def close(self) -> None:
        if self._db is not None:
            await self._run(self._db.close)
            self._db = None
        self._thread.shutdown(wait=True)
