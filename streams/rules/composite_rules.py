"""Composite rules: all conditions hold for the same group, inline ones now, referenced rules while they fire.

An inline condition is checked as a threshold, ratio or spike rule of the
composite's own scope and group would be; a referenced rule is read from the
alert book, so its own `for` and clear level apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation, fingerprint
from streams.indicators.service import Reader
from streams.rules.conditions import RatioCondition, SpikeCondition, ThresholdCondition, finest
from streams.rules.evaluators import BuildContext, ScheduledCheck, TimerCheck
from streams.rules.indicator_configs import CompositeRuleConfig, RuleRef
from streams.rules.indicator_rules import ThresholdCheck
from streams.rules.spike_rules import SpikeCheck


def condition_check(
    rule_id: str, index: int, cond: ThresholdCondition | RatioCondition | SpikeCondition, scope: str, group: str | None
) -> TimerCheck:
    """The check of inline condition `index` (its place in `all`), as the rule of its kind would check it."""
    if isinstance(cond, SpikeCondition):
        return SpikeCheck.for_condition(rule_id, cond, scope, group, key=f"{rule_id}.all.{index}")
    return ThresholdCheck.for_condition(rule_id, cond, scope, group)


@dataclass(frozen=True)
class CompositeCheck:
    """All conditions hold for the same group: inline ones now, referenced rules while they fire."""

    rule_id: str
    inline: tuple[TimerCheck, ...]
    refs: tuple[str, ...]
    book: AlertBook

    @classmethod
    def from_config(cls, config: CompositeRuleConfig, context: BuildContext) -> ScheduledCheck:
        scope, group = str(config.scope), finest(config.group_by)
        inline = tuple(
            condition_check(config.id, i, c, scope, group)
            for i, c in enumerate(config.conditions)
            if not isinstance(c, RuleRef)
        )
        refs = tuple(c.rule for c in config.conditions if isinstance(c, RuleRef))
        return ScheduledCheck(cls(config.id, inline, refs, context.book), float(config.every))

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
