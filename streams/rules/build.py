"""Turn a validated rule set into evaluators, lifecycle policies and schedule gates."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation, RulePolicy, fingerprint
from streams.indicators.service import Reader
from streams.registry import Registry
from streams.rules import event_rules
from streams.rules.conditions import (
    RatioCondition,
    SpikeCondition,
    ThresholdCondition,
    WindowBaseline,
)
from streams.rules.deadline_rules import DeadlineCheck
from streams.rules.durations import format_duration
from streams.rules.indicator_rules import ThresholdCheck
from streams.rules.loader import RuleSet
from streams.rules.runner import RuleSetup, TimerCheck
from streams.rules.schedule import Schedule, parse_opening
from streams.rules.schema import (
    AbsenceRule,
    CompositeRule,
    DeadlineRule,
    FrequencyRule,
    PersistentRule,
    RatioRule,
    RuleRef,
    SpikeRule,
    ThresholdRule,
)
from streams.rules.spike_rules import SpikeCheck
from streams.workdays import DEFAULT as WORKING_DAYS
from streams.workdays import SHANGHAI

#: The finest of a rule's group keys is what its indicator is grouped by; the others ride along.
_ORDER = ("camera", "window", "hall", "node", "county", "dept", "source", "city")


def finest(group_by: Iterable[str]) -> str | None:
    keys = set(group_by)
    return next((k for k in _ORDER if k in keys), None)


def _check(
    rule_id: str, cond: ThresholdCondition | RatioCondition | SpikeCondition, scope: str, group: str | None
) -> TimerCheck:
    if isinstance(cond, SpikeCondition):
        b = cond.baseline
        window = isinstance(b, WindowBaseline)
        lookback = b.lookback if window else cond.window_s * (cond.min_history + 2)
        return SpikeCheck(
            rule_id,
            cond.indicator,
            cond.window,
            scope,
            group,
            lookback,
            "window" if window else "ewma",
            cond.z,
            clear_z=(cond.z or 1.0) / 2,
            min_history=cond.min_history,
            alpha=1.0 if window else b.alpha,
            factor=cond.factor,
            direction=cond.direction,
            min_value=cond.min_value,
            same_time_of_day=window and b.same_time_of_day,
        )
    denominator = cond.denominator if isinstance(cond, RatioCondition) else None
    minimum = cond.min_denominator if isinstance(cond, RatioCondition) else 0
    return ThresholdCheck(
        rule_id, cond.indicator, cond.window, scope, group, cond.op, cond.threshold, cond.clear_at, denominator, minimum
    )


@dataclass(frozen=True)
class CompositeCheck:
    """All conditions hold for the same group: inline ones now, referenced rules while they fire."""

    rule_id: str
    inline: tuple[TimerCheck, ...]
    refs: tuple[str, ...]
    book: AlertBook

    async def evaluate(self, reader: Reader, now: datetime) -> list[Observation]:
        held: dict[tuple[tuple[str, str], ...], Observation] = {}
        first = True
        for check in self.inline:
            found = {tuple(sorted(o.group.items())): o for o in await check.evaluate(reader, now) if o.breached}
            held = found if first else {k: v for k, v in held.items() if k in found}
            first = False
        out = []
        for key, obs in held.items():
            group = dict(key)
            if all(self._firing(ref, group) for ref in self.refs):
                out.append(
                    Observation(
                        self.rule_id,
                        group,
                        now,
                        True,
                        False,
                        obs.value,
                        {"conditions": len(self.inline) + len(self.refs)},
                    )
                )
        return out

    def _firing(self, rule_id: str, group: dict[str, str]) -> bool:
        alert = self.book.get(fingerprint(rule_id, group))
        return alert is not None and alert.state == "firing"


def make_gate(schedule: Schedule, registry: Registry) -> Callable[[Observation], bool] | None:
    """Whether an observation falls inside the rule's schedule (None: always)."""
    if schedule.always:
        return None
    fixed = schedule.spans

    def gate(obs: Observation) -> bool:
        local = obs.at.astimezone(SHANGHAI)
        if schedule.working_days_only and not WORKING_DAYS.is_workday(local.date()):
            return False
        spans = fixed
        if schedule.opening == "hall":
            hall = registry.hall(obs.group.get("hall", ""))
            if hall is None:
                return True
            spans = parse_opening(hall.opening)
        if not spans:
            return True
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(start <= second <= end for start, end in spans)

    return gate


def build(rules: RuleSet, registry: Registry, book: AlertBook, now: datetime) -> RuleSetup:
    """Register every enabled rule's policy in the book and return its evaluators."""
    setup = RuleSetup()
    for rule in rules:
        if not rule.enabled:
            continue
        book.register(
            RulePolicy(
                rule.id,
                rule.severity,
                float(getattr(rule, "for_", 0)),
                float(rule.cooldown),
                {**rule.labels, "domain": rule.domain},
            )
        )
        if rule.routes:
            setup.routes[rule.id] = tuple(rule.routes)
        setup.messages[rule.id] = (rule.title, rule.message, _message_values(rule))
        gate = make_gate(rule.schedule, registry)
        if gate is not None:
            setup.gates[rule.id] = gate
        scope, group = str(rule.scope), finest(rule.group_by)
        if isinstance(rule, (ThresholdRule, RatioRule, SpikeRule)):
            setup.indicator_checks.append(_check(rule.id, rule, scope, group))
            setup.every_s[rule.id] = float(rule.every)
        elif isinstance(rule, CompositeRule):
            inline = tuple(_check(rule.id, c, scope, group) for c in rule.conditions if not isinstance(c, RuleRef))
            refs = tuple(c.rule for c in rule.conditions if isinstance(c, RuleRef))
            setup.indicator_checks.append(CompositeCheck(rule.id, inline, refs, book))
            setup.every_s[rule.id] = float(rule.every)
        elif isinstance(rule, DeadlineRule):
            city = int(rule.scope.value) if rule.scope.kind == "city" else None
            setup.indicator_checks.append(DeadlineCheck(rule.id, rule.step, float(rule.grace), city))
            setup.every_s[rule.id] = 60.0
        elif isinstance(rule, FrequencyRule):
            setup.event_rules.append(
                event_rules.FrequencyRule(
                    rule.id, rule.stream, dict(rule.match), tuple(rule.key), rule.count, float(rule.within)
                )
            )
        elif isinstance(rule, PersistentRule):
            setup.event_rules.append(
                event_rules.PersistentRule(
                    rule.id, rule.stream, dict(rule.match), tuple(rule.key), dict(rule.state), float(rule.expire)
                )
            )
        elif isinstance(rule, AbsenceRule):
            absence = event_rules.AbsenceRule(
                rule.id,
                rule.stream,
                dict(rule.match),
                tuple(rule.key),
                float(rule.expected_interval),
                rule.missed,
                rule.interval_field,
            )
            if rule.expect == "registry":
                absence.expect(expected_groups(rule.key[0], registry), since=now)
            setup.event_rules.append(absence)
    return setup


def expected_groups(field: str, registry: Registry) -> list[dict[str, str]]:
    """Every registry entity an absence rule on `field` should hear from, as alert groups."""
    if field == "node_id":
        return [{"city": str(n.city_code), "node": n.node_id} for n in registry.nodes()]
    if field == "source":
        sources = [(s.source_id, s.city_code) for s in registry.sources()]
        return [{"city": str(city), "source": sid} for sid, city in sources]
    if field == "hall_id":
        return [{"city": str(h.city_code), "hall": h.hall_id} for h in registry.halls()]
    if field == "camera_id":
        out = []
        for c in registry.cameras():
            hall = registry.hall(c.hall_id)
            out.append({"city": str(hall.city_code if hall else 0), "camera": c.camera_id})
        return out
    return []


def _message_values(rule: object) -> dict[str, object]:
    """The rule's own numbers a message template may show: window, threshold, clear, denominator."""
    values: dict[str, object] = {}
    within = getattr(rule, "within", None)
    if within is not None:
        values["window"] = format_duration(within)
    elif getattr(rule, "window", None):
        values["window"] = rule.window  # type: ignore[attr-defined]
    for name in ("threshold", "clear"):
        if getattr(rule, name, None) is not None:
            values[name] = getattr(rule, name)
    if getattr(rule, "denominator", None):
        values["denominator_name"] = rule.denominator  # type: ignore[attr-defined]
    return values
