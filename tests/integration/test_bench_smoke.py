"""`python -m tests.bench --smoke` runs its three rows end to end and writes its table and JSON.

It proves the benchmark works on the embedded stack; it does not judge speed,
which depends on the machine (the figures are in the README, from a full run).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_the_smoke_run_prints_all_three_rows_with_every_figure(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--smoke", "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    report = json.loads((tmp_path / "bench.json").read_text())
    rows = {row["name"].split(" ", 1)[0]: row for row in report["rows"]}
    assert set(rows) == {"ceiling", "peer", "govpulse"}
    for row in rows.values():
        assert row["events"] > 0 and row["events_per_s"] > 0 and row["cpu_s_per_million"] > 0
        assert all(mb > 0 for mb in row["peak_rss_mb"].values())
    assert rows["peer"]["ingest_p50_s"] is not None
    gp = rows["govpulse"]
    for figure in ("ingest_p50_s", "ingest_p99_s", "event_alert_p50_s", "event_alert_p99_s"):
        assert gp[figure] is not None and gp[figure] > 0, figure
    assert gp["anomalies_injected"] >= 3 and gp["event_alerts_seen"] == gp["anomalies_injected"]
    # The indicator path fired 0 of 3 within the bench's listening time in one loaded CI run (3 of 3 here when
    # quiet), so it is counted and reported rather than required: its percentiles exist exactly when some fired.
    assert (gp["indicator_alert_p50_s"] is None) == (gp["indicator_alerts_seen"] == 0)
    assert set(gp["peak_rss_mb"]) == {"gateway", "worker+center", "broker", "redis"}
    assert {t["target"] for t in report["targets"]} >= {"govpulse / peer", "govpulse / ceiling", "worker peak RSS MB"}
    assert "govpulse (gateway → alerts)" in (tmp_path / "bench.txt").read_text()
