"""Replay one series through a spike rule as it would run live: a score per window, and where alerts start.

The rule is built as the rule engine builds it (`streams.rules.build`: its
policy registered in a fresh alert book, its schedule, its spike check), and
each row is fed to the check's own per-entity step as one complete window,
then to the book, so `for`, cooldown and the clear score behave as live.
Used by `govpulse rules score` and by the anomaly benchmark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import fingerprint, require_aware
from streams.registry import Registry
from streams.rules.build import build
from streams.rules.indicator_configs import SpikeRuleConfig
from streams.rules.loader import RuleError, RuleSet, load_rules
from streams.rules.runner import in_schedule
from streams.rules.spike_rules import SpikeCheck


@dataclass(frozen=True)
class ReplayRow:
    """One window of the series as the rule saw it."""

    at: datetime
    value: float
    #: The score the rule compared with its threshold: the detector's, or 0 where the rule could not fire on this
    #: window (not armed yet, or the value on a side the rule does not watch).
    score: float
    #: An alert of the rule starts (its firing notice) on this window.
    firing: bool


def replay_series(rule: SpikeRuleConfig, points: Sequence[tuple[datetime, float]]) -> list[ReplayRow]:
    """Each (window start, value) in time order, one complete window each (gaps allowed), scored by `rule`.

    ValueError if a time has no zone or does not come after the one before it.
    """
    book = AlertBook()
    live = rule if rule.enabled else rule.model_copy(update={"enabled": True})
    setup = build(RuleSet((live,)), Registry(), book, points[0][0] if points else datetime.fromtimestamp(0, UTC))
    check = setup.indicator_checks[0]
    if not isinstance(check, SpikeCheck):  # RULE_TYPES builds a spike rule into a SpikeCheck
        raise TypeError(f"rule {rule.id} was built into a {type(check).__name__}, not a spike check")
    rows: list[ReplayRow] = []
    before: datetime | None = None
    for at, value in points:
        require_aware("a window's time", at)
        if before is not None and at <= before:
            raise ValueError(f"windows must be in time order: {at.isoformat()} comes after {before.isoformat()}")
        before = at
        # The window just given is complete and the newest: judged now, learned when the next one comes.
        obs = check.observe("", {}, [(at, value)], at)
        found = in_schedule([obs] if obs is not None else [], setup.gates)
        notices = book.observe_all(found)
        notices += book.resolve_missing(rule.id, {fingerprint(o.rule_id, o.group) for o in found}, at)
        score = obs.evidence.get("score") if obs is not None else None
        firing = any(n.kind == "firing" for n in notices)
        rows.append(ReplayRow(at, value, score if isinstance(score, float) else 0.0, firing))
    return rows


def load_rule(path: Path, rule_id: str) -> SpikeRuleConfig:
    """Rule `rule_id` of a rule file (or folder), checked as `govpulse rules check` checks it.

    RuleError (a ValueError) listing the file's problems, or saying the id is missing or names another rule type.
    """
    rules = load_rules(path)
    rule = rules.get(rule_id)
    if rule is None:
        ids = ", ".join(r.id for r in rules) or "none"
        raise RuleError([f"{path}: no rule {rule_id!r}; its rules are {ids}"])
    if not isinstance(rule, SpikeRuleConfig):
        raise RuleError([f"{path}: rule {rule_id} is a {rule.type} rule; only a spike rule has a score to replay"])
    return rule
