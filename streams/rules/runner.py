"""Runs the rules: event rules on each ingested batch, indicator rules and clocks on a timer.

Each rule is isolated: one that raises or runs past its time limit is
counted in /metrics and logged, and the others go on. Notices go to the
outputs after every batch and every round.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ParamSpec, Protocol

import structlog

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Alert, Notice, Observation, fingerprint
from streams.indicators.service import Reader
from streams.metrics import Metrics
from streams.rules.evaluators import EventRule, TimerCheck
from streams.rules.event_rules import AbsenceRule

log = structlog.get_logger(__name__)
P = ParamSpec("P")
#: One accepted event as the event rules read it: its fields, its event time, its city.
EventView = tuple[Mapping[str, Any], datetime, int | None]


class Outputs(Protocol):
    async def publish(self, notices: Sequence[Notice], active: Sequence[Alert]) -> None: ...


class Notifier(Protocol):
    def submit(self, notices: Sequence[Notice], routes: Mapping[str, Sequence[str]]) -> None: ...


@dataclass
class RuleSetup:
    """The evaluators of one loaded rule set."""

    event_rules: list[EventRule] = field(default_factory=list)
    indicator_checks: list[TimerCheck] = field(default_factory=list)
    every_s: dict[str, float] = field(default_factory=dict)  # indicator rule id -> evaluation interval
    #: rule id -> notification routes, e.g. ("webhook:duty",)
    routes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: rule id -> (title, message template, the rule's own values such as window and threshold)
    messages: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)
    #: rule id -> whether an observation falls in the rule's schedule (opening hours, working days)
    gates: dict[str, Callable[[Observation], bool]] = field(default_factory=dict)


def in_schedule(
    observations: Iterable[Observation], gates: Mapping[str, Callable[[Observation], bool]]
) -> list[Observation]:
    """The observations that fall inside their rule's schedule (rules without a gate always do)."""
    return [o for o in observations if o.rule_id not in gates or gates[o.rule_id](o)]


class RuleRunner:
    def __init__(
        self,
        book: AlertBook,
        outputs: Outputs,
        reader: Reader,
        metrics: Metrics,
        *,
        rule_timeout_s: float = 10.0,
        notifier: Notifier | None = None,
        labeler: Callable[[Observation], Observation] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.book = book
        self.outputs = outputs
        self.reader = reader
        self.metrics = metrics
        self.rule_timeout_s = rule_timeout_s
        self.notifier = notifier
        self.labeler = labeler
        self.clock = clock
        self.setup = RuleSetup()
        self._next_due: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def use(self, setup: RuleSetup) -> None:
        self.setup = setup
        self._next_due = {}
        # A reload builds the event rules afresh; an absence rule must still know which keys it has alerts for,
        # or a node heard again after a reload would never clear the alert raised before it.
        for rule in setup.event_rules:
            if isinstance(rule, AbsenceRule):
                rule.adopt([alert.group for alert in self.book.active() if alert.rule_id == rule.rule_id])

    async def on_events(self, stream: str, events: Sequence[tuple[object, datetime, int | None]]) -> None:
        """Feed accepted events (model, occurred_at, city) of one stream to the event rules."""
        rules = [r for r in self.setup.event_rules if r.stream == stream]
        if not rules or not events:
            return
        observations: list[Observation] = []
        # A model's __dict__ holds every field: the rules read it as a mapping, with no copy and no wrapper.
        views = [(ev.__dict__, at, city) for ev, at, city in events]
        for rule in rules:
            observations += self._guard_sync(rule.rule_id, _feed, rule, views)
        await self._apply(observations)

    async def tick(self) -> None:
        """One timer round: age event windows, evaluate due indicator rules, move silences along."""
        await self._round(full=True)

    async def evaluate_due(self) -> None:
        """Only the indicator rules that are due: run between full rounds so none waits for the next one."""
        await self._round(full=False)

    def seconds_until_due(self) -> float:
        """Until the next indicator rule is due (0 if one is already); inf without indicator rules."""
        now = time.monotonic()
        return max(
            0.0,
            min((self._next_due.get(c.rule_id, 0.0) - now for c in self.setup.indicator_checks), default=float("inf")),
        )

    async def _round(self, *, full: bool) -> None:
        now = self.clock()
        observations: list[Observation] = []
        if full:
            for rule in self.setup.event_rules:
                observations += self._guard_sync(rule.rule_id, rule.tick, now)
        due = [c for c in self.setup.indicator_checks if self._next_due.get(c.rule_id, 0.0) <= time.monotonic()]
        results = await asyncio.gather(*(self._evaluate(check, now) for check in due))
        notices: list[Notice] = []
        async with self._lock:
            for check, found in zip(due, results, strict=True):
                if found is None:
                    continue  # a failed round keeps the rule's alerts as they are
                seen = set()
                for obs in self._in_schedule(found):
                    notices += self.book.observe(obs)
                    seen.add(fingerprint(obs.rule_id, obs.group))
                notices += self.book.resolve_missing(check.rule_id, seen, now)
            notices += self._observe_all(observations)
            if full:
                notices += self.book.tick(now)
            await self._publish(notices)

    async def act(self, change: Callable[[datetime], list[Notice]]) -> list[Notice]:
        """Apply a duty officer's change (acknowledge, silence) to the book between rounds, and publish its notices."""
        async with self._lock:
            notices = change(self.clock())
            await self._publish(notices)
        return notices

    async def _apply(self, observations: list[Observation]) -> None:
        if not observations:
            return
        async with self._lock:
            notices = self._observe_all(observations)
            if notices:
                await self._publish(notices)

    async def _publish(self, notices: list[Notice]) -> None:
        await self.outputs.publish(notices, self.book.active())
        if self.notifier is not None and notices:
            self.notifier.submit(notices, self.setup.routes)

    def _in_schedule(self, observations: list[Observation]) -> list[Observation]:
        """Outside its schedule a rule says nothing; a timer rule's alerts then resolve as groups gone quiet."""
        kept = in_schedule(observations, self.setup.gates)
        labelled = [self.labeler(o) for o in kept] if self.labeler is not None else kept
        return [self._with_message(o) for o in labelled]

    def _with_message(self, obs: Observation) -> Observation:
        """Render the rule's message template into the evidence; unknown placeholders stay empty."""
        title, template, static = self.setup.messages.get(obs.rule_id, ("", "", {}))
        if not template or not obs.breached:
            return obs
        values: dict[str, Any] = {
            **static,
            **obs.evidence,
            **obs.labels,
            **obs.group,
            "rule": obs.rule_id,
            "title": title,
        }
        denominator = static.get("denominator_name")
        if isinstance(denominator, str) and denominator in obs.evidence:
            values["denominator"] = obs.evidence[denominator]
        if obs.value is not None:
            values["value"] = round(obs.value, 3)
        try:
            text = template.format_map(defaultdict(str, values))
        except (ValueError, IndexError):
            text = title
        return replace(obs, evidence={**obs.evidence, "message": text})

    def _observe_all(self, observations: list[Observation]) -> list[Notice]:
        notices: list[Notice] = []
        for obs in self._in_schedule(observations):
            try:
                notices += self.book.observe(obs)
            except KeyError:
                self.metrics.rule_errors.labels(obs.rule_id).inc()
        return notices

    async def _evaluate(self, check: TimerCheck, now: datetime) -> list[Observation] | None:
        self._next_due[check.rule_id] = time.monotonic() + self.setup.every_s.get(check.rule_id, 60.0)
        started = time.perf_counter()
        try:
            return await asyncio.wait_for(check.evaluate(self.reader, now), self.rule_timeout_s)
        except Exception as exc:  # noqa: BLE001 - a failing rule is reported, never fatal to the others
            self.metrics.rule_errors.labels(check.rule_id).inc()
            log.warning("rule_failed", rule=check.rule_id, error=repr(exc)[:300])
            return None
        finally:
            self.metrics.rule_eval_seconds.labels(check.rule_id).observe(time.perf_counter() - started)

    def _guard_sync(
        self, rule_id: str, action: Callable[P, list[Observation]], *args: P.args, **kwargs: P.kwargs
    ) -> list[Observation]:
        try:
            return action(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - as above, for event rules
            self.metrics.rule_errors.labels(rule_id).inc()
            log.warning("rule_failed", rule=rule_id, error=repr(exc)[:300])
            return []


def _feed(rule: EventRule, views: Sequence[EventView]) -> list[Observation]:
    return [o for view, at, city in views for o in rule.add(view, at, city)]
