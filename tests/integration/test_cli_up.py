"""`govpulse up` as a user runs it: a separate process, fed by the simulator, stopped by SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from streams.embedded import free_port

pytestmark = pytest.mark.integration


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback only
            return resp.status, resp.read()
    except OSError:
        return 0, b""


def _post(url: str, body: dict, token: str) -> int:
    req = urllib.request.Request(  # noqa: S310 - loopback only
        url, data=json.dumps(body).encode(), headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
        return resp.status


def _wait(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout_s}s")


class Up:
    def __init__(self, data_dir: Path, *args: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / f"up-{self.port}.log"
        env = dict(os.environ, GOVPULSE_REGISTRY_HALLS="300", GOVPULSE_TOPIC_PARTITIONS="4")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
                [sys.executable, "-m", "streams.cli", "up", "--data-dir", str(data_dir), "--port", str(self.port), *args],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
        _wait(lambda: _get(f"{self.base}/healthz")[0] == 200 or self._died(), 90, "healthz")

    def _died(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"govpulse up exited: {self.log_path.read_text()[-3000:]}")
        return False

    def stats(self) -> dict[str, int]:
        status, body = _get(f"{self.base}/api/v1/stats")
        return json.loads(body)["rows"] if status == 200 else {}

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r'"pid": (\d+), "port"', self.log_path.read_text())]

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)


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
        rows = _wait(lambda: (s := up.stats()) and s["node_heartbeats"] > 0 and s["queue_events"] > 0 and s, 60, "simulated rows")
        assert rows["rejections"] == 0
        _, metrics = _get(f"{up.base}/metrics")
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
        _wait(lambda: sum(first.stats().values()) > 0, 60, "first run rows")
    finally:
        assert first.terminate() == 0
    tokens = json.loads((tmp_path / "simulator_tokens.json").read_text())
    second = Up(tmp_path)
    try:
        before = second.stats()["window_events"]
        now = time.time()
        hall, window = _first_hall_and_window(tmp_path)
        events = [
            {"event_id": f"restart-{now:.0f}-{i}", "source": "node-440100", "seq": i,
             "occurred_at": _iso(now - 1), "sent_at": _iso(now), "type": "window_opened", "hall_id": hall, "window_id": window}
            for i in range(5)
        ]  # fmt: skip
        assert _post(f"{second.base}/api/v1/ingest/window", {"source": "node-440100", "events": events}, tokens["node-440100"]) == 202
        _wait(lambda: second.stats()["window_events"] == before + 5, 30, "5 new rows")
    finally:
        assert second.terminate() == 0


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat()


def _first_hall_and_window(_: Path) -> tuple[str, str]:
    from streams.registry.generate import generate

    registry = generate(halls=300)
    hall = registry.halls_in_city(440100)[0]
    window = next(w for w in registry.entities("window") if w.hall_id == hall.hall_id)
    return hall.hall_id, window.window_id
