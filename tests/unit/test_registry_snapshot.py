"""The registry snapshot an embedded stack is seeded from again: it reads back equal, and a bad line is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.registry import InvalidRow
from streams.registry.generate import generate
from streams.registry.snapshot import read_snapshot, write_snapshot


def test_a_snapshot_reads_back_the_registry_it_was_written_from(tmp_path: Path) -> None:
    registry = generate(halls=150)
    path = tmp_path / "registry.jsonl"
    count = write_snapshot(registry, path)
    assert count == sum(registry.counts().values())
    assert read_snapshot(path) == registry
    assert not path.with_name("registry.jsonl.tmp").exists()


def test_a_line_that_cannot_be_read_is_named_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "registry.jsonl"
    write_snapshot(generate(halls=150), path)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = '["hall", "H1", {"name": "no such fields"}]'
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InvalidRow, match=r"registry.jsonl:3: "):
        read_snapshot(path)
