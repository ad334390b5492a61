"""The whole-process crash drill: kill -9 of `govpulse up` (broker, Redis and worker die with it) while clients post.

One embedded `govpulse up` (Tansu and valkey as its children, chDB in it, all
roles) takes simulated traffic from 8 client threads. At random moments the
whole process is killed with SIGKILL: the kernel ends its children, so every
message the broker held is gone, and only the gateway's spool on disk still
has the batches answered 202 whose rows were not stored. It is restarted on
the same data directory and the same port; the clients retry whatever got
no answer. Afterwards ClickHouse must hold every event of a batch answered
202 exactly once. Used by tests/integration/test_up_crash.py (short, in CI)
and tests/bench/up_crash.py (at least 10 kills).
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from connectors.embedded import free_port
from connectors.gateway.node_tokens import issue_tokens
from tests.integration.crash_drill import EVENT_TABLES, HALLS, _clickhouse_ids, _post, traffic
from tests.integration.processes import get, wait_for

CLIENTS = 8
STALL = "1:5"


@dataclass
class UpReport:
    sent: int = 0
    answered_202: set[str] = field(default_factory=set)
    refused: int = 0
    kills: int = 0
    restarts_s: list[float] = field(default_factory=list)
    #: Batches answered 202 and not yet stored when each kill came: what only the spool still had.
    spooled_at_kill: list[int] = field(default_factory=list)
    stored: int = 0
    stored_ids: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def lost(self) -> int:
        return len(self.answered_202 - self.stored_ids)

    @property
    def doubled(self) -> int:
        return self.stored - len(self.stored_ids)

    @property
    def unexpected(self) -> int:
        """Stored ids no 202 covered: a batch whose answer the kill cut off, stored, then sent again and answered."""
        return len(self.stored_ids - self.answered_202)

    @staticmethod
    def checksum(ids: set[str]) -> str:
        return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]

    def summary(self) -> str:
        return (
            f"sent {self.sent} events, answered 202 for {len(self.answered_202)} ({self.refused} records refused); "
            f"kills of the whole process {self.kills} (batches in the spool at each: "
            f"{', '.join(map(str, self.spooled_at_kill))}; restarts took "
            f"{', '.join(f'{s:.1f}' for s in self.restarts_s)} s); stored {self.stored} rows / "
            f"{len(self.stored_ids)} ids; lost {self.lost}, doubled {self.doubled}, "
            f"not answered 202 {self.unexpected}; "
            f"checksum 202 {self.checksum(self.answered_202)} stored {self.checksum(self.stored_ids)}"
        )


class Process:
    """`govpulse up` (embedded, every role) on a fixed data directory and port, killed and started again."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> float:
        began = time.monotonic()
        self.starts += 1
        env = {
            **os.environ,
            "GOVPULSE_REGISTRY_HALLS": str(HALLS),
            "GOVPULSE_TOPIC_PARTITIONS": "4",
            "GOVPULSE_LOG_LEVEL": "warning",
            # ClickHouse writes fail from 1 s to 6 s after each start, as on a slow or busy disk: the worker falls
            # behind, so a kill finds batches answered 202 that the broker held and ClickHouse did not.
            "GOVPULSE_FAULT_CLICKHOUSE_WRITES": STALL,
        }
        log = (self.data_dir / f"up-{self.starts}.log").open("wb")
        argv = [sys.executable, "-m", "agents.cli.main", "up", "--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen([*argv, "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: get(f"{self.base}/healthz")[0] == 200 or self._died(), 120, "healthz")
        return time.monotonic() - began

    def _died(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            tail = (self.data_dir / f"up-{self.starts}.log").read_text()[-3000:]
            raise AssertionError(f"govpulse up exited with {self.proc.returncode}: {tail}")
        return False

    def kill(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def spooled(self) -> int:
        """Batches the gateway's spool holds now: answered 202, rows not stored yet."""
        status, body = get(f"{self.base}/metrics")
        for line in body.decode().splitlines() if status == 200 else ():
            if line.startswith("govpulse_spool_batches "):
                return int(float(line.split()[1]))
        return 0

    def stored(self) -> int:
        import json

        status, body = get(f"{self.base}/api/v1/stats")
        rows = json.loads(body)["rows"] if status == 200 else {}
        return sum(rows.get(t, 0) for t in EVENT_TABLES)

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=120)


def wait_for_spooled(up: Process, timeout_s: float) -> int:
    """The spool's batches as soon as it holds some, or 0 after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        held = up.spooled()
        if held:
            return held
        time.sleep(0.05)
    return 0


def wait_until_stored(up: Process, wanted: int, quiet_s: float = 60.0) -> None:
    """Until `wanted` rows are stored, or none more came for `quiet_s`: then the report counts what was lost."""
    last, since = -1, time.monotonic()
    while (stored := up.stored()) < wanted and time.monotonic() - since < quiet_s:
        if stored != last:
            last, since = stored, time.monotonic()
        time.sleep(0.5)


def run(root: Path, *, events: int, kills: int, seed: int = 1) -> UpReport:
    """Run the drill under `root`; the report says what was answered 202, stored, lost and doubled."""
    report = UpReport()
    rng = random.Random(seed)
    batches = traffic(events)
    data = root / "up"
    data.mkdir(parents=True, exist_ok=True)
    tokens = issue_tokens(sorted({s for s, _, _ in batches}), data / "node_tokens.json")
    up = Process(data, free_port())
    up.start()
    # The sending is paced to span every kill and restart, so each kill lands while batches come in.
    span_s = kills * 20.0
    pause_s = span_s * CLIENTS / len(batches)
    shares = [batches[n::CLIENTS] for n in range(CLIENTS)]

    def client(share: list[tuple[str, str, list[dict]]]) -> None:
        for source, stream, evs in share:
            time.sleep(pause_s)
            # _post sends again after a refused connection or a 503, for a minute: a restart is shorter.
            answer = _post(up.base, stream, source, tokens[source], evs)
            refused = {r["event_id"] for r in answer["rejected"]}
            with report.lock:
                report.sent += len(evs)
                report.refused += len(refused)
                if answer.get("accepted"):
                    report.answered_202 |= {e["event_id"] for e in evs if e["event_id"] not in refused}

    threads = [threading.Thread(target=client, args=(share,), name=f"client-{n}") for n, share in enumerate(shares)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(kills):
            time.sleep(rng.uniform(2.0, 9.0))
            # A kill that finds the spool empty proves little: wait (a little) for batches not stored yet.
            held = wait_for_spooled(up, 10.0)
            up.kill()
            report.spooled_at_kill.append(held)
            report.kills += 1
            report.restarts_s.append(up.start())
        for thread in threads:
            thread.join()
        wait_until_stored(up, len(report.answered_202))
        time.sleep(3)  # let a late double, if any, land before counting
    finally:
        code = up.terminate()
    assert code == 0, f"exit code {code}"
    report.stored, report.stored_ids, _ = _clickhouse_ids(data)
    return report
