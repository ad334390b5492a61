"""Backtest: replay rules over the history in ClickHouse and say when they would have fired and resolved.

Timer rules are evaluated as of each step between `from` and `to` (their
queries see nothing after that moment, save for the rest of a 5-minute
state bucket); event rules are fed the stored events in event-time order,
with their clocks ticked at each step. A fresh lifecycle per run, so
`for`, hysteresis and cooldown behave as they would have live.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Notice, fingerprint
from streams.indicators.service import Reader
from streams.registry import Registry
from streams.rules.build import build
from streams.rules.loader import RuleSet
from streams.rules.runner import in_schedule

#: Raw table and the columns event rules may match or key on, per stream.
_EVENT_TABLES = {
    "queue": ("queue_events", ("type", "hall_id", "window_id", "staff_id", "dept_id", "source")),
    "window": ("window_events", ("type", "hall_id", "window_id", "staff_id", "source")),
    "evaluation": (
        "evaluations",
        (
            "type",
            "level",
            "channel",
            "mode",
            "hall_id",
            "window_id",
            "staff_id",
            "device_id",
            "evaluator_hash",
            "dept_id",
            "source",
        ),
    ),
    "case": ("case_events", ("type", "dept_id", "source")),
    "video": ("camera_probes", ("type", "camera_id", "node_id", "status", "hall_id", "source")),
}
_HEARTBEATS = ("node_heartbeats", ("type", "node_id", "source"))
MAX_EVENTS = 2_000_000


@dataclass
class Episode:
    rule_id: str
    group: dict[str, str]
    fired_at: datetime
    resolved_at: datetime | None = None


@dataclass
class BacktestReport:
    start: datetime
    end: datetime
    episodes: list[Episode] = field(default_factory=list)

    def flaps(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], int]:
        """Per alert (rule and group): how many times it fired again after resolving."""
        count: dict[tuple[str, tuple[tuple[str, str], ...]], int] = defaultdict(int)
        for ep in self.episodes:
            count[(ep.rule_id, tuple(sorted(ep.group.items())))] += 1
        return {k: n - 1 for k, n in count.items() if n > 1}


class _Row(dict[str, Any]):
    """A stored event, read like an event model by the event rules."""


async def _events(reader: Reader, stream: str, start: datetime, end: datetime) -> list[tuple[_Row, datetime, int]]:
    tables = [_EVENT_TABLES[stream]] + ([_HEARTBEATS] if stream == "video" else [])
    out: list[tuple[_Row, datetime, int]] = []
    for table, columns in tables:
        rows = await reader.query(
            f"SELECT event_id, occurred_at, city_code, {', '.join(columns)} FROM {table} FINAL"
            " WHERE occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}"
            f" ORDER BY occurred_at LIMIT {MAX_EVENTS}",
            {"start": start, "end": end},
        )
        for event_id, at, city, *values in rows:
            at = at if at.tzinfo else at.replace(tzinfo=UTC)  # chDB may hand back UTC without its zone
            out.append((_Row(event_id=event_id, **dict(zip(columns, values, strict=True))), at, city))
    out.sort(key=lambda e: e[1])
    return out


async def backtest(
    rules: RuleSet,
    reader: Reader,
    registry: Registry,
    start: datetime,
    end: datetime,
    step: timedelta = timedelta(minutes=1),
) -> BacktestReport:
    book = AlertBook()
    setup = build(rules, registry, book, start)
    report = BacktestReport(start, end)
    open_episodes: dict[str, Episode] = {}

    def record(notices: list[Notice]) -> None:
        for n in notices:
            fp = n.alert.fingerprint
            if n.kind == "firing":
                open_episodes[fp] = Episode(n.alert.rule_id, dict(n.alert.group), n.at)
                report.episodes.append(open_episodes[fp])
            elif n.kind == "resolved" and fp in open_episodes:
                open_episodes.pop(fp).resolved_at = n.at

    streams = {r.stream for r in setup.event_rules}
    events = [e for s in sorted(streams) for e in await _events(reader, s, start, end)]
    events.sort(key=lambda e: e[1])
    gates = setup.gates
    next_due: dict[str, datetime] = {}
    cursor = 0
    t = start
    while t <= end:
        while cursor < len(events) and events[cursor][1] <= t:
            row, at, city = events[cursor]
            stream = _stream_of(row)
            for rule in setup.event_rules:
                if rule.stream == stream:
                    record(book.observe_all(in_schedule(rule.add(row, at, city), gates)))
            cursor += 1
        for rule in setup.event_rules:
            record(book.observe_all(in_schedule(rule.tick(t), gates)))
        for check in setup.indicator_checks:
            if t < next_due.get(check.rule_id, start):
                continue
            next_due[check.rule_id] = t + timedelta(seconds=setup.every_s.get(check.rule_id, 60.0))
            found = in_schedule(await check.evaluate(reader, t), gates)
            record(book.observe_all(found))
            record(book.resolve_missing(check.rule_id, {fingerprint(o.rule_id, o.group) for o in found}, t))
        t += step
    return report


def _stream_of(row: _Row) -> str:
    kind = row.get("type", "")
    if kind in ("node_heartbeat", "camera_probe"):
        return "video"
    if kind == "evaluation":
        return "evaluation"
    if str(kind).startswith("case_"):
        return "case"
    if kind in ("window_opened", "window_paused", "window_closed", "staff_login", "staff_logout"):
        return "window"
    return "queue"
