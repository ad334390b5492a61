"""The gateway's spool on a real SQLite file: durable order, its bound, release by committed offset, faults."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from connectors.gateway.spool import ROW_OVERHEAD_BYTES, Spool, SpoolCorrupt, SpoolUnavailable

HEADERS = [("govpulse-seal", b"\x00\x01sig")]


async def opened(path: Path, max_bytes: int = 1 << 20) -> Spool:
    spool = Spool(path, max_bytes)
    await spool.open()
    return spool


async def test_batches_survive_a_reopen_in_order_with_their_headers(tmp_path: Path) -> None:
    path = tmp_path / "spool" / "gateway.sqlite3"
    spool = await opened(path)
    ids = [await spool.put("raw.queue", b"440100", f"batch {n}".encode(), HEADERS) for n in range(3)]
    assert spool.rows == 3
    size = spool.size_bytes
    await spool.close()

    again = Spool(path, 1 << 20)
    held = await again.open()
    assert [(b.id, b.topic, b.key, b.value, b.headers) for b in held] == [
        (ids[n], "raw.queue", b"440100", f"batch {n}".encode(), HEADERS) for n in range(3)
    ]
    assert (again.rows, again.size_bytes) == (3, size)
    await again.close()


async def test_a_full_spool_refuses_the_batch_and_keeps_what_it_holds(tmp_path: Path) -> None:
    one = len(b"k") + len(b"v" * 100) + len('[["govpulse-seal", "000173696"]]') + ROW_OVERHEAD_BYTES
    spool = await opened(tmp_path / "s.sqlite3", max_bytes=2 * one + 10)
    for _ in range(2):
        await spool.put("raw.queue", b"k", b"v" * 100, [("govpulse-seal", b"\x00\x01sig")])
    with pytest.raises(SpoolUnavailable) as refused:
        await spool.put("raw.queue", b"k", b"v" * 100, [("govpulse-seal", b"\x00\x01sig")])
    assert refused.value.code == "spool_full" and "retry later" in refused.value.detail
    assert spool.rows == 2
    await spool.close()


async def test_release_lets_go_below_the_committed_offset_of_that_partition_only(tmp_path: Path) -> None:
    spool = await opened(tmp_path / "s.sqlite3")
    placed = [("raw.queue", 0, 5), ("raw.queue", 0, 9), ("raw.queue", 1, 5), ("raw.window", 0, 5)]
    for topic, partition, offset in placed:
        await spool.placed(await spool.put(topic, b"k", b"v", []), partition, offset)
    unplaced = await spool.put("raw.queue", b"k", b"v", [])  # sent, broker's answer not recorded yet
    assert await spool.placements() == [("raw.queue", 0), ("raw.queue", 1), ("raw.window", 0)]

    assert await spool.release("raw.queue", 0, 9) == 1  # offset 9 is not below 9: not committed yet
    assert await spool.release("raw.queue", 0, 10) == 1
    assert spool.rows == 3
    await spool.drop(unplaced)
    assert spool.rows == 2 and spool.size_bytes == 2 * (1 + 1 + 2 + ROW_OVERHEAD_BYTES)
    await spool.close()


async def test_a_disk_that_fills_answers_unavailable_and_loses_nothing_held(tmp_path: Path) -> None:
    """SQLite's own 'database or disk is full', made by capping the file's pages as a full disk would."""
    path = tmp_path / "s.sqlite3"
    spool = await opened(path)
    kept = await spool.put("raw.queue", b"k", b"v", [])
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    spool._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(SpoolUnavailable) as refused:
        await spool.put("raw.queue", b"k", b"x" * 100_000, [])
    assert refused.value.code == "spool_unavailable" and "full" in refused.value.detail
    await spool.close()
    held = await Spool(path, 1 << 20).open()
    assert [b.id for b in held] == [kept]


async def test_a_file_that_is_not_a_spool_is_refused_at_open(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    path.write_bytes(b"this is not SQLite" * 100)
    with pytest.raises(SpoolCorrupt, match="not a readable spool"):
        await Spool(path, 1 << 20).open()


async def test_a_row_that_cannot_be_read_back_is_named(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    spool = await opened(path)
    await spool.put("raw.queue", b"k", b"v", [])
    bad = await spool.put("raw.queue", b"k", b"v", [])
    await spool.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE batches SET headers = 'not json' WHERE id = ?", (bad,))
    with pytest.raises(SpoolCorrupt, match=f"row {bad}: headers are not readable"):
        await Spool(path, 1 << 20).open()
