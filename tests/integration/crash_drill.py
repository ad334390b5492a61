"""The crash drill: events through a gateway while the worker is killed with SIGKILL and restarted.

A gateway process stays up; the worker (with the rule engine, as the embedded
mode runs them: chDB belongs to one process) is killed at random moments and
started again on the same data directory. Afterwards ClickHouse must hold
exactly the events the gateway accepted (count and a checksum over their ids),
the dead-letter topic exactly the ones it rejected, and the bad-review burst
sent part way must have fired once. Used by tests/integration/test_crash.py
(short) and tests/bench/crash.py (100,000 events).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from connectors.embedded import ChildProcess, free_port, tansu_broker, valkey_server
from connectors.gateway.node_tokens import issue_tokens
from streams.registry.generate import generate
from streams.simulator import Simulation
from streams.simulator.hours import offset_to
from tests.integration.processes import Up, wait_for

HALLS = 300
BATCH = 250
BURST_CITY = 440300
EVENT_TABLES = ("queue_events", "window_events", "evaluations", "node_heartbeats", "camera_probes")


@dataclass
class Report:
    sent: int = 0
    accepted: set[str] = field(default_factory=set)
    rejected: Counter[str] = field(default_factory=Counter)
    kills: int = 0
    restarts_s: list[float] = field(default_factory=list)
    stored_at_kill: list[int] = field(default_factory=list)
    sent_at_kill: list[int] = field(default_factory=list)
    stored: int = 0
    stored_ids: set[str] = field(default_factory=set)
    dead_letters: Counter[str] = field(default_factory=Counter)
    burst_firings: int = 0  # firing notices on the alerts topic: what receivers saw
    burst_history: int = 0  # firing rows in alert_notices
    burst_fingerprint: str = ""

    @property
    def lost(self) -> int:
        return len(self.accepted - self.stored_ids)

    @property
    def doubled(self) -> int:
        return self.stored - len(self.stored_ids)

    @property
    def unexpected(self) -> int:
        return len(self.stored_ids - self.accepted)

    def checksum(self, ids: set[str]) -> str:
        return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]

    def _kill_points(self) -> list[str]:
        """stored/sent events at each kill."""
        return [f"{a}/{b}" for a, b in zip(self.stored_at_kill, self.sent_at_kill, strict=True)]

    def summary(self) -> str:
        return (
            f"sent {self.sent}, accepted {len(self.accepted)}, rejected {sum(self.rejected.values())}; "
            f"kills survived {self.kills} (at {', '.join(self._kill_points())} "
            f"events stored/sent; restarts took {', '.join(f'{s:.1f}' for s in self.restarts_s)} s); "
            f"stored {self.stored} rows / {len(self.stored_ids)} ids, lost {self.lost}, doubled {self.doubled}, "
            f"unexpected {self.unexpected}; checksum accepted {self.checksum(self.accepted)} stored "
            f"{self.checksum(self.stored_ids)}; dead letters {sum(self.dead_letters.values())} "
            f"({len(self.dead_letters)} ids); burst alert fired {self.burst_firings} time(s) on the alerts topic, "
            f"{self.burst_history} in history"
        )


def traffic(events: int) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(source, stream, events) batches of simulated traffic, with about 2% records dated in the future."""
    start = datetime.now(UTC) - timedelta(minutes=30)
    # Hall clocks at 10:00 whatever the hour, so queues and evaluations flow as in opening hours (stamps stay real).
    sim = Simulation(generate(halls=HALLS), rate_eps=2000.0, seed=11, clock_offset=offset_to(start, "10:00"))
    per_key: dict[tuple[str, str], list[dict[str, Any]]] = {}
    total, step = 0, 0
    rng = random.Random(5)
    while total < events:
        step += 1
        for stream, source, event in sim.step(start + timedelta(seconds=5 * step), 5.0):
            if stream == "case" or total >= events:
                continue  # cases carry step order across batches; the drill is about delivery
            event = {**event, "sent_at": datetime.now(UTC).isoformat()}
            if rng.random() < 0.02:
                event["occurred_at"] = "2999-01-01T00:00:00+00:00"  # refused at the gateway: future
            per_key.setdefault((source, stream), []).append(event)
            total += 1
    batches = []
    for (source, stream), evs in sorted(per_key.items()):
        batches += [(source, stream, evs[i : i + BATCH]) for i in range(0, len(evs), BATCH)]
    rng.shuffle(batches)
    return batches


def _post(base: str, stream: str, source: str, token: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"source": source, "events": events}).encode()
    req = urllib.request.Request(
        f"{base}/api/v1/ingest/{stream}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    for _ in range(60):
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            if exc.code == 400:
                return json.loads(exc.read())  # every record refused
            if exc.code != 503:
                raise
        except OSError:
            pass
        time.sleep(1)  # the broker said no: the batch is not stored, send it again
    raise AssertionError("the gateway did not take a batch within a minute")


def _clickhouse_ids(data_dir: Path) -> tuple[int, set[str], list[tuple[str, int, str]]]:
    """Rows, distinct ids and the burst's firing notices, read in a child process (chDB: one path per process)."""
    script = f"""
import json
from connectors.clickhouse.client import ClickHouse
ch = ClickHouse("chdb://{data_dir / "clickhouse"}", "govpulse")
ch.open()
rows, ids = 0, []
for t in {EVENT_TABLES!r}:
    got = ch.query_sync(f"SELECT event_id FROM {{t}}")
    rows += len(got)
    ids += [r[0] for r in got]
notices = ch.query_sync("SELECT fingerprint, episode, notice_key FROM alert_notices WHERE kind = 'firing'")
print(json.dumps({{"rows": rows, "ids": ids, "notices": [list(n) for n in notices]}}))
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=300)
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return data["rows"], set(data["ids"]), [tuple(n) for n in data["notices"]]


def _topic(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        return [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()


def run(root: Path, *, events: int, kills: int, seed: int = 1) -> Report:
    """Run the drill under `root`; the report says what was lost and doubled."""
    from tests.integration.center import bad_reviews, burst_fingerprint

    report = Report()
    rng = random.Random(seed)
    batches = traffic(events)
    registry = generate(halls=HALLS)
    burst = bad_reviews(SimpleNamespace(registry=registry), BURST_CITY, "crash-staff", n=5)  # type: ignore[arg-type]
    report.burst_fingerprint = burst_fingerprint(BURST_CITY, "crash-staff")
    batches.insert(len(batches) // 3, (f"node-{BURST_CITY}", "evaluation", burst))
    sources = sorted({s for s, _, _ in batches})
    tokens = issue_tokens(sources, root / "gw" / "node_tokens.json")

    children: list[ChildProcess] = [
        tansu_broker(free_port(), root / "logs"),
        valkey_server(free_port(), root / "redis"),
    ]
    for child in children:
        child.start()
    bootstrap = f"127.0.0.1:{children[0].port}"
    # Tansu answers a group join after half the session timeout, and a killed member is only dropped when its
    # session expires: the embedded mode's 6 s, not the 30 s meant for a real broker.
    env = {
        "GOVPULSE_KAFKA_DSN": f"kafka://{bootstrap}",
        "GOVPULSE_REDIS_DSN": f"redis://127.0.0.1:{children[1].port}/0",
        "GOVPULSE_LOG_LEVEL": "warning",
        "GOVPULSE_BROKER_SESSION_TIMEOUT_S": "6",
    }
    back_env = {**env, "GOVPULSE_ROLES": "worker,center"}
    back = Up(root / "back", env=back_env)
    gate = Up(root / "gw", env={**env, "GOVPULSE_ROLES": "gateway"})
    done = threading.Event()

    # The sending is paced to span every kill, so each one lands while batches are coming in and being stored.
    span_s = kills * 12.0
    pause_s = span_s / len(batches)

    def send() -> None:
        try:
            for source, stream, evs in batches:
                time.sleep(pause_s)
                answer = _post(gate.base, stream, source, tokens[source], evs)
                refused = {r["event_id"] for r in answer["rejected"]}
                report.sent += len(evs)
                report.accepted |= {e["event_id"] for e in evs if e["event_id"] not in refused}
                report.rejected.update(r["event_id"] for r in answer["rejected"])
        finally:
            done.set()

    sender = threading.Thread(target=send, name="crash-drill-sender")
    try:
        sender.start()
        # Kills spread over the sending, at random moments, each after the worker is back up and storing.
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 5.0))
            report.stored_at_kill.append(sum(back.stats().get(t, 0) for t in EVENT_TABLES))
            report.sent_at_kill.append(report.sent)
            os.kill(back.proc.pid, signal.SIGKILL)
            back.proc.wait()
            report.kills += 1
            began = time.monotonic()
            back = Up(root / "back", env=back_env)
            report.restarts_s.append(time.monotonic() - began)
        done.wait()
        sender.join()
        wanted = len(report.accepted)
        wait_for(
            lambda: sum(back.stats().get(t, 0) for t in EVENT_TABLES) >= wanted, 300, "every accepted event stored"
        )
        time.sleep(3)  # let a late double, if any, land before counting
    finally:
        codes = [gate.terminate(), back.terminate()]
        try:
            report.dead_letters = Counter(d["event_id"] for d in _topic(bootstrap, "deadletter"))
            notices = _topic(bootstrap, "alerts")
            report.burst_firings = sum(
                1 for n in notices if n["kind"] == "firing" and n["alert"]["fingerprint"] == report.burst_fingerprint
            )
        finally:
            for child in reversed(children):
                child.stop()
    assert codes == [0, 0], f"exit codes {codes}"
    report.stored, report.stored_ids, history = _clickhouse_ids(root / "back")
    report.burst_history = len([key for fp, _, key in history if fp == report.burst_fingerprint])
    return report
