"""kill -9 of the worker, five times while events stream in: nothing accepted is lost or doubled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.crash_drill import run

pytestmark = pytest.mark.integration


def test_five_kills_lose_and_double_nothing(tmp_path: Path) -> None:
    """After five SIGKILLs of the worker, ClickHouse holds exactly the accepted events and the burst fired once."""
    report = run(tmp_path, events=20_000, kills=5)
    print(report.summary())
    assert report.kills == 5
    assert len(report.accepted) > 18_000
    assert (report.lost, report.doubled, report.unexpected) == (0, 0, 0)
    assert report.checksum(report.stored_ids) == report.checksum(report.accepted)
    assert report.dead_letters == report.rejected  # each refused record dead-lettered exactly once
    assert report.burst_firings == 1
    assert report.burst_history == 1
