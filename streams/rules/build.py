"""Turn a validated rule set into evaluators, lifecycle policies and schedule gates.

Each rule's evaluator comes from its rule type's factory (`RULE_TYPES`); what
every rule has (policy, routes, message, schedule) is set up here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation, RulePolicy
from streams.registry import Registry
from streams.rules.evaluators import BuildContext, ScheduledCheck
from streams.rules.loader import RuleSet
from streams.rules.runner import RuleSetup
from streams.rules.schedule import Schedule, parse_opening
from streams.rules.schema import RULE_TYPES
from streams.workdays import DEFAULT as WORKING_DAYS
from streams.workdays import SHANGHAI


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
    context = BuildContext(registry, book, now)
    for rule in rules:
        if not rule.enabled:
            continue
        book.register(
            RulePolicy(
                rule.id,
                rule.severity,
                float(getattr(rule, "for_", 0)),  # the rule types with a `for` name it for_
                float(rule.cooldown),
                {**rule.labels, "domain": rule.domain},
            )
        )
        if rule.routes:
            setup.routes[rule.id] = tuple(rule.routes)
        setup.messages[rule.id] = (rule.title, rule.message, rule.message_values())
        gate = make_gate(rule.schedule, registry)
        if gate is not None:
            setup.gates[rule.id] = gate
        evaluator = RULE_TYPES[rule.type].evaluator(rule, context)
        if isinstance(evaluator, ScheduledCheck):
            setup.indicator_checks.append(evaluator.check)
            setup.every_s[rule.id] = evaluator.every_s
        else:
            setup.event_rules.append(evaluator)
    return setup
