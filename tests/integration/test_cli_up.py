"""`govpulse up` as a user runs it: a separate process, fed by the simulator, stopped by SIGTERM."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from tests.integration.processes import Up, get, post, wait_for

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(")")[-1].split()[0] != "Z"


def test_up_with_the_simulator_fills_clickhouse_and_sigterm_leaves_no_process(tmp_path: Path) -> None:
    """Simulated events reach ClickHouse and /metrics within a minute; SIGTERM stops every child."""
    up = Up(tmp_path, "--simulate", "--rate", "300")
    try:
        rows = wait_for(
            lambda: (s := up.stats()) and s["node_heartbeats"] > 0 and s["queue_events"] > 0 and s, 60, "simulated rows"
        )
        assert rows["rejections"] == 0
        _, metrics = get(f"{up.base}/metrics")
        assert re.search(rb"govpulse_events_accepted_total\{stream=\"\w+\"\} [1-9]", metrics)
        children = up.child_pids()
        assert len(children) == 2
    finally:
        code = up.terminate()
    assert code == 0
    assert [pid for pid in children if _alive(pid)] == []


def test_a_restart_on_a_fresh_broker_keeps_storing_new_events(tmp_path: Path) -> None:
    """After a restart the in-memory broker starts at offset 0 again; new events are stored, not skipped."""
    first = Up(tmp_path, "--simulate", "--rate", "50")
    try:
        wait_for(lambda: sum(first.stats().values()) > 0, 60, "first run rows")
    finally:
        assert first.terminate() == 0
    tokens = json.loads((tmp_path / "simulator_tokens.json").read_text())
    second = Up(tmp_path)
    try:
        # Batches the first run answered 202 for and had not stored yet come back from the spool: count after them.
        wait_for(lambda: _spooled(second.base) == 0, 60, "the spool drained")
        before = second.stats()["window_events"]
        now = time.time()
        hall, window = _first_hall_and_window(tmp_path)
        events = [
            {
                "event_id": f"restart-{now:.0f}-{i}",
                "source": "node-440100",
                "seq": i,
                "occurred_at": _iso(now - 1),
                "sent_at": _iso(now),
                "type": "window_opened",
                "hall_id": hall,
                "window_id": window,
            }
            for i in range(5)
        ]
        assert (
            post(
                f"{second.base}/api/v1/ingest/window",
                {"source": "node-440100", "events": events},
                tokens["node-440100"],
            )
            == 202
        )
        wait_for(lambda: second.stats()["window_events"] == before + 5, 30, "5 new rows")
    finally:
        assert second.terminate() == 0


def _spooled(base: str) -> float:
    _, body = get(f"{base}/metrics")
    lines = [line for line in body.decode().splitlines() if line.startswith("govpulse_spool_batches ")]
    return float(lines[0].split()[1]) if lines else -1.0


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat()


def _first_hall_and_window(_: Path) -> tuple[str, str]:
    from streams.registry.generate import generate

    registry = generate(halls=300)
    hall = registry.halls_in_city(440100)[0]
    window = next(w for w in registry.windows() if w.hall_id == hall.hall_id)
    return hall.hall_id, window.window_id
