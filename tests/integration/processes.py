"""govpulse processes started the way an operator starts them, for tests that need more than one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from connectors.embedded import free_port


def get(url: str) -> tuple[int, bytes]:
    """(status, body); status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def post(url: str, body: dict, token: str) -> int:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status


def wait_for(check, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout_s}s")


class Up:
    """`govpulse up` in its own process; `env` adds GOVPULSE_* variables (roles, shared DSNs)."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = data_dir / f"up-{self.port}.log"
        env = {**os.environ, "GOVPULSE_REGISTRY_HALLS": "300", "GOVPULSE_TOPIC_PARTITIONS": "4", **(env or {})}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "agents.cli.main",
                    "up",
                    "--data-dir",
                    str(data_dir),
                    "--port",
                    str(self.port),
                    *args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_for(lambda: get(f"{self.base}/healthz")[0] == 200 or self._died(), 90, "healthz")

    def _died(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"govpulse up exited: {self.log_path.read_text()[-3000:]}")
        return False

    def stats(self) -> dict[str, int]:
        status, body = get(f"{self.base}/api/v1/stats")
        return json.loads(body)["rows"] if status == 200 else {}

    def child_pids(self) -> list[int]:
        return [int(p) for p in re.findall(r'"pid": (\d+), "port"', self.log_path.read_text())]

    def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)
