"""Spike rules: each entity's latest window against the baseline its own detector has learned, window by window.

A check keeps one detector per entity (group value, or the scope as a whole)
in its `SpikeMemory`, carried from round to round. A round reads only the
windows the check has not learned yet. Every window older than an entity's
latest is complete, and is learned in time order; the latest (the one still
filling, or the last complete one) is judged against the baseline without
being learned, and is learned once a newer window exists or it is too old to
be judged. A check without state rebuilds it from the rule's `history` in
ClickHouse, in pages of at most MAX_POINTS windows, so a 5-minute rule can
have weeks of baseline. `streams.rules.spike_state` saves the state with the
alert book and carries it over a reload that leaves the rule's spike
settings alone.

Bounds: a check keeps at most MAX_ENTITIES entities and MAX_CHECK_POINTS
baseline values in all (the least recently seen entity is dropped first and
starts afresh if it comes back); what one entity keeps is bounded by its
detector (`spike_baselines.MAX_SERIES_POINTS`). A value revised after its
window was learned (a late event) is not learned again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.alerts.model import Observation, from_iso, to_iso
from streams.detectors import Detector, Verdict, restore
from streams.indicators.catalog import INDICATORS
from streams.indicators.query import MAX_POINTS, WINDOWS, IndicatorQuery
from streams.indicators.service import Reader, run
from streams.rules.conditions import SpikeCondition, finest
from streams.rules.evaluators import BuildContext, ScheduledCheck
from streams.rules.indicator_configs import SpikeRuleConfig
from streams.workdays import SHANGHAI

#: Most entities one check keeps a detector for.
MAX_ENTITIES = 10_000
#: Most baseline values one check keeps over all its entities (fewer entities when each keeps many).
MAX_CHECK_POINTS = 1_000_000

#: One window of an entity's series: its start and its value.
Window = tuple[datetime, float]


def window_start(at: datetime, window: str) -> datetime:
    """The start of the window holding `at`: 5m and 1h windows in UTC, 1d windows on the Asia/Shanghai day."""
    if window == "1d":
        local = at.astimezone(SHANGHAI)
        return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
    size = int(WINDOWS[window].total_seconds())
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % size, UTC)


@dataclass
class SeriesState:
    """One entity's detector, the start of the newest window it has learned, and the window last judged."""

    detector: Detector
    learned_until: datetime | None = None
    #: The latest window, judged and not learned yet; a newer window, or its own ageing, gets it learned.
    pending: Window | None = None

    def advance(self, windows: Sequence[Window], judge_from: datetime) -> tuple[Window | None, int]:
        """Learn the windows (in time order) not learned yet, but for the latest if it starts at `judge_from` or
        later: that one is returned to be judged. Also returns how many windows were learned.

        The window judged before counts as given again (a value read again for it replaces the one kept).
        """
        merged = dict([self.pending] if self.pending is not None else [])
        merged.update(windows)
        fresh = sorted(w for w in merged.items() if self.learned_until is None or w[0] > self.learned_until)
        latest = fresh.pop() if fresh and fresh[-1][0] >= judge_from else None
        for at, value in fresh:
            self.detector.learn(at, value)
        if fresh:
            self.learned_until = fresh[-1][0]
        self.pending = latest
        return latest, len(fresh)


class SpikeMemory:
    """One check's detectors by entity, least recently seen first, and where its next read starts."""

    def __init__(self, make: Callable[[], Detector], capacity: int) -> None:
        self.make = make
        self.capacity = capacity
        self.series: dict[str, SeriesState] = {}
        #: Start of the earliest window the next round reads; None: nothing read yet, so the history is.
        self.read_from: datetime | None = None
        #: Something was learned since the state was last saved.
        self.changed = False

    def entity(self, key: str) -> SeriesState:
        """The entity's state, made fresh if it has none; it becomes the most recently seen."""
        state = self.series.pop(key, None)
        if state is None:
            state = SeriesState(self.make())
            while len(self.series) >= self.capacity:
                del self.series[next(iter(self.series))]
        self.series[key] = state
        return state

    def snapshot(self) -> dict[str, Any]:
        return {
            "read_from": to_iso(self.read_from),
            "series": {
                key: {
                    "learned_until": to_iso(s.learned_until),
                    "pending": None if s.pending is None else [s.pending[0].isoformat(), s.pending[1]],
                    "detector": s.detector.snapshot(),
                }
                for key, s in self.series.items()
            },
        }

    def load(self, data: dict[str, Any]) -> None:
        """Take a snapshot's state (ValueError, KeyError or TypeError if it is not one); keeps the newest entities."""
        series = {
            str(key): SeriesState(restore(s["detector"]), from_iso(s["learned_until"]), _window(s["pending"]))
            for key, s in list(data["series"].items())[-self.capacity :]
        }
        self.series, self.read_from, self.changed = series, from_iso(data["read_from"]), False


def _window(saved: list[Any] | None) -> Window | None:
    if saved is None:
        return None
    at, value = saved
    return datetime.fromisoformat(str(at)), float(value)


@dataclass(eq=False)
class SpikeCheck:
    """A spike condition, per entity of the rule's scope and group, with the detectors it has learned."""

    rule_id: str
    condition: SpikeCondition
    scope: str
    group: str | None
    #: Names the check's saved state: the rule id, or `<rule>.all.<n>` for a composite's inline condition.
    key: str
    memory: SpikeMemory = field(repr=False)

    @classmethod
    def from_config(cls, config: SpikeRuleConfig, context: BuildContext) -> ScheduledCheck:
        check = cls.for_condition(config.id, config, str(config.scope), finest(config.group_by))
        return ScheduledCheck(check, float(config.every))

    @classmethod
    def for_condition(
        cls, rule_id: str, cond: SpikeCondition, scope: str, group: str | None, key: str | None = None
    ) -> SpikeCheck:
        """The check of one condition, in the rule's scope, per `group` (None: the scope as a whole)."""
        per_entity = max(1, cond.baseline.points_kept(cond.window_s))
        capacity = max(1, min(MAX_ENTITIES, MAX_CHECK_POINTS // per_entity))
        return cls(rule_id, cond, scope, group, key or rule_id, SpikeMemory(cond.detector, capacity))

    @property
    def settings(self) -> str:
        """What the learned state depends on, as canonical JSON: state saved under other settings is not used."""
        return json.dumps({**self.condition.state_settings(), "scope": self.scope, "group": self.group}, sort_keys=True)

    async def evaluate(self, reader: Reader, now: datetime) -> list[Observation]:
        window = self.condition.window
        size = WINDOWS[window]
        oldest = window_start(now - timedelta(seconds=self.condition.history_s), window)
        start = oldest if self.memory.read_from is None else max(self.memory.read_from, oldest)
        current = window_start(now, window)
        last = max(start, current - size * (MAX_POINTS - 1))
        # Pages before the last are long complete: learned whole, never judged. Each is kept before the next is
        # read, so a rebuild cut short by the rule's time limit resumes where it stopped.
        page = start
        while page < last:
            end = min(page + size * MAX_POINTS, last)
            for key, (group, windows) in (await self._read(reader, page, end, now)).items():
                self.observe(key, group, windows, now)
            self.memory.read_from = page = end
        out: list[Observation] = []
        judged = [current]
        if last < now:
            for key, (group, windows) in (await self._read(reader, last, now, now)).items():
                obs = self.observe(key, group, windows, now)
                if obs is not None:
                    out.append(obs)
                    judged.append(datetime.fromisoformat(str(obs.evidence["bucket"])))
        # The judged windows are read again next round: until a newer one exists they are not learned.
        self.memory.read_from = min(judged)
        return out

    def observe(self, key: str, group: dict[str, str], windows: Sequence[Window], now: datetime) -> Observation | None:
        """Feed one entity's windows (in time order) as of `now`: learn the complete ones not learned yet, and
        judge the latest if it is the window still filling or the last complete one (None otherwise)."""
        state = self.memory.entity(key)
        latest, learned = state.advance(windows, now - 2 * WINDOWS[self.condition.window])
        self.memory.changed = self.memory.changed or learned > 0
        if latest is None:
            return None
        at, value = latest
        verdict = state.detector.judge(at, value)
        score, breached, cleared = self.judge(value, verdict, state.detector.points)
        evidence = {
            "indicator": self.condition.indicator,
            "window": self.condition.window,
            "bucket": at.isoformat(),
            "value": value,
            "score": score,
            "z": verdict.z,
            "baseline": verdict.baseline,
            "spread": verdict.spread,
            "points": state.detector.points,
            "detector": state.detector.kind,
        }
        return Observation(self.rule_id, group, now, breached, cleared, value, evidence)

    def judge(self, value: float, verdict: Verdict, points: int) -> tuple[float, bool, bool]:
        """(score, breached, cleared) of a window's value and verdict.

        The score is the verdict's where the detector is armed (and has `min_history` points) and the value lies
        on a side the rule watches, else 0: the score the threshold is compared with.
        """
        c = self.condition
        watched = verdict.side != "none" and c.direction in (verdict.side, "both")
        score = verdict.score if verdict.armed and points >= c.min_history and watched else 0.0
        news = score > 0.0 and self._news(value, verdict)
        breached = news and score >= c.threshold_score
        cleared = not breached and (not news or score < c.clear_score)
        return score, breached, cleared

    def _news(self, value: float, verdict: Verdict) -> bool:
        """The value passes min_value (a floor going up, a ceiling going down) and, going up, the factor."""
        c = self.condition
        if verdict.side == "up":
            return (c.min_value is None or value >= c.min_value) and (
                c.factor is None or value >= c.factor * verdict.baseline
            )
        return c.min_value is None or value <= c.min_value

    async def _read(
        self, reader: Reader, start: datetime, end: datetime, now: datetime
    ) -> dict[str, tuple[dict[str, str], list[Window]]]:
        """Each entity's windows with a value in [start, end), in time order, by state key."""
        q = IndicatorQuery.build(self.scope, self.condition.window, start, end, now, group=self.group)
        split = INDICATORS[self.condition.indicator].grouped_by
        wanted = self.condition.series
        out: dict[str, tuple[dict[str, str], list[Window]]] = {}
        for point in (await run(reader, self.condition.indicator, q))["points"]:
            if point["value"] is None:
                continue
            group = {self.group: str(point[self.group])} if self.group else {}
            if split:
                part = str(point[split])
                if wanted is not None and part not in wanted:
                    continue
                group[split] = part  # one series per reason or status, each with its own baseline
            key = "\t".join(group.values())
            out.setdefault(key, (group, []))[1].append((datetime.fromisoformat(point["bucket"]), point["value"]))
        for _, windows in out.values():
            windows.sort()
        return out
