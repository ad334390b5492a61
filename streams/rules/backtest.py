"""Backtest: replay rules over the history in ClickHouse and say when they would have fired and resolved.

Timer rules are evaluated as of each step between `from` and `to` (their
queries see nothing after that moment, save for the rest of a 5-minute
state bucket); event rules are fed the stored events in event-time order,
with their clocks ticked at each step. A fresh lifecycle per run, so
`for`, hysteresis and cooldown behave as they would have live; spike rules
start without state, so their first step rebuilds each baseline from the
history before `from`, as a worker start would.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Notice, fingerprint
from streams.definitions import STREAMS
from streams.indicators.service import Reader
from streams.registry import Registry
from streams.rules.build import build
from streams.rules.loader import RuleSet
from streams.rules.runner import in_schedule
from streams.rules.spike_rules import SpikeCheck
from streams.rules.spike_state import spike_checks

MAX_EVENTS = 2_000_000


@dataclass
class Episode:
    rule_id: str
    group: dict[str, str]
    fired_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class SpikeCoverage:
    """How much of a spike check's scope had a baseline to judge against when the replay ended."""

    key: str
    series: int
    #: Series whose latest window was judged armed: an alert could have fired for them.
    armed: int


@dataclass
class BacktestReport:
    start: datetime
    end: datetime
    episodes: list[Episode] = field(default_factory=list)
    #: Per spike check: a rule that fired nothing over a range where it was never armed has said nothing.
    spikes: list[SpikeCoverage] = field(default_factory=list)

    def flaps(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], int]:
        """Per alert (rule and group): how many times it fired again after resolving."""
        count: dict[tuple[str, tuple[tuple[str, str], ...]], int] = defaultdict(int)
        for ep in self.episodes:
            count[(ep.rule_id, tuple(sorted(ep.group.items())))] += 1
        return {k: n - 1 for k, n in count.items() if n > 1}


class _Row(dict[str, Any]):
    """A stored event, read like an event model by the event rules."""


async def _events(reader: Reader, stream: str, start: datetime, end: datetime) -> list[tuple[str, _Row, datetime, int]]:
    """The stream's stored events in the window, from the table of each of its kinds, in event-time order."""
    out: list[tuple[str, _Row, datetime, int]] = []
    for kind in STREAMS[stream].kinds:
        table, columns = kind.table, kind.rule_columns
        rows = await reader.query(
            f"SELECT event_id, occurred_at, city_code, {', '.join(columns)} FROM {table} FINAL"
            " WHERE occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}"
            f" ORDER BY occurred_at LIMIT {MAX_EVENTS}",
            {"start": start, "end": end},
        )
        for event_id, at, city, *values in rows:
            at = at if at.tzinfo else at.replace(tzinfo=UTC)  # chDB may hand back UTC without its zone
            out.append((stream, _Row(event_id=event_id, **dict(zip(columns, values, strict=True))), at, city))
    out.sort(key=lambda e: e[2])
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
    events.sort(key=lambda e: e[2])
    gates = setup.gates
    next_due: dict[str, datetime] = {}
    cursor = 0
    t = start
    while t <= end:
        while cursor < len(events) and events[cursor][2] <= t:
            stream, row, at, city = events[cursor]
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
    report.spikes = [_coverage(check) for check in spike_checks(setup.indicator_checks)]
    return report


def _coverage(check: SpikeCheck) -> SpikeCoverage:
    armed = 0
    for state in check.memory.series.values():
        if state.pending is not None:
            at, value = state.pending
            verdict = state.detector.judge(at, value)
            armed += verdict.armed and state.detector.points >= check.condition.min_history
    return SpikeCoverage(check.key, len(check.memory.series), armed)
