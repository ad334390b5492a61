"""Anomalies the benchmark injects while govpulse runs, and the bench-only rule that times the indicator path.

One injection is 25 very-dissatisfied evaluations in one hall, each for a
different staff member, stamped just now. It trips two rules: the shipped
event rule `hall_bad_review_burst` (10 within 10 minutes, judged as the events
arrive) and the indicator rule below (bad-review rate of the hall over 5
minutes, read from ClickHouse every 10 s, no `for`). The replayed background
traffic is a past morning's, so it never enters these windows.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.registry import Registry

EVENT_RULE = "hall_bad_review_burst"
INDICATOR_RULE = "bench_hall_bad_review_rate"
INDICATOR_EVERY_S = 10
PER_INJECTION = 25

PROBE_RULES = f"""\
# Written by `govpulse bench` beside the shipped rules: times the indicator path.
rules:
  - id: {INDICATOR_RULE}
    type: ratio
    title: 基准测试探针：大厅差评率
    description: Bench only. A hall's bad-review rate over 5 minutes, read every {INDICATOR_EVERY_S} s, without a hold.
    severity: info
    domain: evaluation
    indicator: bad_review_rate
    denominator: evaluations
    min_denominator: 20
    window: 5m
    every: {INDICATOR_EVERY_S}s
    group_by: [hall]
    op: ">"
    threshold: 0.9
    clear: 0.5
"""


class Injector:
    """Builds the n-th injection; each goes to a hall of its own."""

    def __init__(self, registry: Registry, run: str) -> None:
        self.halls = sorted(registry.halls(), key=lambda h: h.hall_id)
        self.windows: dict[str, list[str]] = {}
        for window in registry.windows():
            self.windows.setdefault(window.hall_id, []).append(window.window_id)
        self.item = min(registry.items(), key=lambda i: i.item_id)
        self.run = run

    def __call__(self, n: int) -> tuple[str, str, list[dict[str, Any]]]:
        """(source, hall_id, evaluations)."""
        hall = self.halls[(n * 7919) % len(self.halls)]  # a stride, so consecutive injections land in different cities
        windows = self.windows.get(hall.hall_id) or [None]
        source = f"node-{hall.city_code}"
        now = datetime.now(UTC)
        tag = f"{self.run}-{n}"
        events = [
            {
                "event_id": f"bench-{tag}-{i}",
                "source": source,
                "seq": i,
                "occurred_at": (now - timedelta(seconds=25 - i)).isoformat(),
                "sent_at": now.isoformat(),
                "type": "evaluation",
                "case_no": f"BENCH{tag}{i}",
                "item_id": self.item.item_id,
                "dept_id": self.item.dept_id,
                "level": "very_dissatisfied",
                "channel": "hall_pad",
                "mode": "active",
                "hall_id": hall.hall_id,
                "window_id": windows[i % len(windows)],
                "staff_id": f"S-BENCH-{tag}-{i}",
                "evaluator_hash": hashlib.sha256(f"{tag}{i}".encode()).hexdigest(),
            }
            for i in range(PER_INJECTION)
        ]
        return source, hall.hall_id, events
