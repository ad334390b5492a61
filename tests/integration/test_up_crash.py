"""kill -9 of the whole `govpulse up` (broker, Redis and worker with it), three times: nothing answered 202 is lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.up_crash_drill import run

pytestmark = pytest.mark.integration


def test_three_kills_of_the_whole_process_lose_and_double_nothing_answered_202(tmp_path: Path) -> None:
    """Each kill finds batches in the spool only (the broker died with the process); all are stored, once."""
    report = run(tmp_path, events=20_000, kills=3)
    print(report.summary())
    assert report.kills == 3
    assert len(report.answered_202) > 18_000
    assert all(held > 0 for held in report.spooled_at_kill), report.spooled_at_kill
    assert (report.lost, report.doubled) == (0, 0)
    assert report.checksum(report.stored_ids & report.answered_202) == report.checksum(report.answered_202)


def test_a_spool_that_cannot_be_read_stops_the_start_naming_the_file(tmp_path: Path) -> None:
    spool = tmp_path / "spool" / "gateway.sqlite3"
    spool.parent.mkdir(parents=True)
    spool.write_bytes(b"not a spool at all " * 200)
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli.main", "up", "--data-dir", str(tmp_path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "GOVPULSE_REGISTRY_HALLS": "150"},
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"the gateway's spool cannot be read back: {spool}: not a readable spool" in done.stderr
    assert spool.read_bytes() == b"not a spool at all " * 200  # left as it was, for inspection
