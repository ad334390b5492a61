"""Normal simulated traffic in all 21 cities raises no spike alert, while the spike rules can judge it.

A `govpulse up` of its own (its own chDB, so the session stack's cities and
data stay apart) takes the mornings of the last five working days of
simulated traffic for every city through the real gateway and worker: the
four earlier mornings are the detectors' history (a same-time-of-day
baseline needs several days), the last one holds the judged hour. Once it
has stopped, `govpulse rules backtest` replays the shipped spike rules and
the benchmark's default spike configuration over the judged hour; the
detectors rebuild their baselines from the stored history, as a worker does
when it starts. Nothing may fire, and the default configuration must have
been armed on most halls, so that the silence means something.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.registry.generate import generate
from streams.simulator import Simulation
from streams.workdays import DEFAULT as WORKING_DAYS
from streams.workdays import SHANGHAI
from tests.integration.processes import Up, post, wait_for

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
CANDIDATES = REPO / "tests" / "bench" / "anomaly" / "candidates.yaml"
DEFAULT_ID = "spike_default"
#: Each simulated morning runs from 08:30 to 11:30 local; the last hour of the last one is judged.
OPEN_LOCAL, CLOSE_LOCAL = (8, 30), (11, 30)
DAYS = 5
RATE_EPS = 12.0
#: Few halls, so that most of them have tickets in most 5-minute windows at this rate.
HALLS = 150
#: The gateway's age limit for this test's own stack. The default, 7 days, is reached by the fifth working day back
#: on every Monday (Shanghai), which would have skipped the test one day a week.
MAX_AGE = timedelta(days=21)


def _working_days() -> list[date]:
    """The last DAYS working days before today, oldest first, all within the gateway's age limit (MAX_AGE)."""
    days: list[date] = []
    day = datetime.now(SHANGHAI).date()
    while len(days) < DAYS:
        day -= timedelta(days=1)
        if WORKING_DAYS.is_workday(day):
            days.append(day)
    if datetime.now(SHANGHAI).date() - days[-1] >= MAX_AGE:
        pytest.skip("the last working days reach past the gateway's age limit (a long holiday such as 春节)")
    return sorted(days)


def _at(day: date, hm: tuple[int, int]) -> datetime:
    return datetime(day.year, day.month, day.day, *hm, tzinfo=SHANGHAI).astimezone(UTC)


def _spike_rules(folder: Path) -> list[str]:
    """The shipped spike rules and the default configuration, alone in one rule file; their ids."""
    rules: list[dict[str, Any]] = []
    for path in sorted((REPO / "alert_rules").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        defaults = doc.get("defaults", {})
        rules += [{**defaults, **r} for r in doc.get("rules", []) if r.get("type") == "spike"]
    candidates = yaml.safe_load(CANDIDATES.read_text(encoding="utf-8"))
    rules += [{**candidates.get("defaults", {}), **r} for r in candidates["rules"] if r["id"] == DEFAULT_ID]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spikes.yaml").write_text(yaml.safe_dump({"rules": rules}, allow_unicode=True), encoding="utf-8")
    return [r["id"] for r in rules]


def _issue_tokens(data: Path, sources: list[str]) -> dict[str, str]:
    plain = data / "tokens-plain.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "agents.cli.main",
            "tokens",
            "issue",
            *sources,
            "--out",
            str(plain),
            "--data-dir",
            str(data),
        ],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    tokens: dict[str, str] = json.loads(plain.read_text(encoding="utf-8"))
    return tokens


def _simulate(days: list[date]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    registry = generate(halls=HALLS)  # the registry `govpulse up` generates for GOVPULSE_REGISTRY_HALLS
    sent: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for n, day in enumerate(days):
        sim = Simulation(registry, rate_eps=RATE_EPS, seed=23 + n)
        t, end = _at(day, OPEN_LOCAL), _at(day, CLOSE_LOCAL)
        while t < end:
            for stream, source, event in sim.step(t, 10.0):
                sent[(source, stream)].append(event)
            t += timedelta(seconds=10)
    return sent


def test_normal_traffic_raises_no_spike_alert_where_the_rules_can_judge(tmp_path: Path) -> None:
    days = _working_days()
    judged_to = _at(days[-1], CLOSE_LOCAL)
    judged_from = judged_to - timedelta(hours=1)
    sent = _simulate(days)
    cities = {int(source.removeprefix("node-").removeprefix("VN")[:6]) for source, _ in sent}
    assert len(cities) == 21, sorted(cities)

    data = tmp_path / "quiet"
    data.mkdir()
    tokens = _issue_tokens(data, sorted({source for source, _ in sent}))
    up = Up(
        data,
        env={"GOVPULSE_REGISTRY_HALLS": str(HALLS), "GOVPULSE_MAX_EVENT_AGE_S": str(int(MAX_AGE.total_seconds()))},
    )
    try:
        accepted = 0
        for (source, stream), events in sent.items():
            for i in range(0, len(events), 2000):
                body = {"source": source, "events": events[i : i + 2000]}
                assert post(f"{up.base}/api/v1/ingest/{stream}", body, tokens[source]) == 202
                accepted += len(body["events"])
        tables = ("queue_events", "window_events", "evaluations", "case_events", "node_heartbeats", "camera_probes")
        wait_for(lambda: sum(up.stats().get(t, 0) for t in tables) >= accepted, 180, f"{accepted} events stored")
    finally:
        assert up.terminate() == 0

    rules = tmp_path / "rules"
    ids = _spike_rules(rules)
    command = ["rules", "backtest", str(rules), "--from", judged_from.isoformat(), "--to", judged_to.isoformat()]
    done = subprocess.run(
        [sys.executable, "-m", "agents.cli.main", *command, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, (out + done.stderr)[-3000:]
    print(f"\n{accepted} events over {DAYS} mornings; backtest of the last hour:\n{out}")
    fired = [line for line in out.splitlines() if " fired " in line and line.split()[0] in ids]
    assert fired == []
    coverage = {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"^spike (\S+): (\d+) of (\d+) series", out, re.M)}
    armed, series = coverage[DEFAULT_ID]
    assert series >= HALLS // 2 and armed >= 0.5 * series, coverage
