"""Indicator rules, evaluated on a timer against the rolling indicators in ClickHouse.

One grouped query per rule and round gives every entity's latest value (e.g.
wait_p90_s of every hall); each becomes an Observation. Hysteresis lives in
the comparison: `breached` uses the threshold, `cleared` the clear level,
and between the two neither holds, so the lifecycle keeps the state it has.
A ratio rule is a threshold rule that also reads its denominator.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from streams.alerts.model import Observation
from streams.indicators.query import WINDOWS, IndicatorQuery
from streams.indicators.service import Reader, run
from streams.rules.conditions import RatioCondition, ThresholdCondition, finest
from streams.rules.evaluators import BuildContext, ScheduledCheck
from streams.rules.indicator_configs import RatioRuleConfig, ThresholdRuleConfig

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
#: The side of the clear level that counts as clear, for each firing operator.
_CLEAR_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.le,
    ">=": operator.lt,
    "<": operator.ge,
    "<=": operator.gt,
}
#: How far back a round looks, in windows: the last window's worth of data, whose latest bucket is judged.
#: An entity with nothing in that span drops out of the round and its alert resolves.
LOOKBACK_WINDOWS = 1


@dataclass(frozen=True)
class ThresholdCheck:
    rule_id: str
    indicator: str
    window: str
    scope: str
    group: str | None
    op: str
    threshold: float
    clear: float
    denominator: str | None = None
    min_denominator: float = 0.0

    @classmethod
    def from_config(cls, config: ThresholdRuleConfig | RatioRuleConfig, context: BuildContext) -> ScheduledCheck:
        check = cls.for_condition(config.id, config, str(config.scope), finest(config.group_by))
        return ScheduledCheck(check, float(config.every))

    @classmethod
    def for_condition(
        cls, rule_id: str, cond: ThresholdCondition | RatioCondition, scope: str, group: str | None
    ) -> ThresholdCheck:
        """The check of one condition, in the rule's scope, per `group` (None: the scope as a whole)."""
        denominator, minimum = (
            (cond.denominator, cond.min_denominator) if isinstance(cond, RatioCondition) else (None, 0)
        )
        return cls(
            rule_id,
            cond.indicator,
            cond.window,
            scope,
            group,
            cond.op,
            cond.threshold,
            cond.clear_at,
            denominator,
            minimum,
        )

    def compare(self, value: float) -> tuple[bool, bool]:
        return _OPS[self.op](value, self.threshold), _CLEAR_OPS[self.op](value, self.clear)

    async def evaluate(self, reader: Reader, now: datetime) -> list[Observation]:
        size = WINDOWS[self.window]
        q = IndicatorQuery.build(self.scope, self.window, now - size * LOOKBACK_WINDOWS, now, now, group=self.group)
        latest = _latest(await run(reader, self.indicator, q), self.group)
        denominators = {}
        if self.denominator:
            denominators = _latest(await run(reader, self.denominator, q), self.group)
        out = []
        for entity, (bucket, value) in latest.items():
            if value is None:
                continue
            if self.denominator:
                d = denominators.get(entity)
                if d is None or d[1] is None or d[1] < self.min_denominator:
                    continue  # too few to judge; the entity drops out of this round and resolves
            breached, cleared = self.compare(value)
            group = {self.group: entity} if self.group else {}
            evidence: dict[str, Any] = {
                "indicator": self.indicator,
                "window": self.window,
                "bucket": bucket,
                "value": value,
            }
            if self.denominator:
                evidence[self.denominator] = denominators[entity][1]
            out.append(Observation(self.rule_id, group, now, breached, cleared and not breached, value, evidence))
        return out


def _latest(answer: dict[str, Any], group: str | None) -> dict[str, tuple[str, float | None]]:
    """Each entity's most recent (bucket, value)."""
    latest: dict[str, tuple[str, float | None]] = {}
    for point in answer["points"]:
        entity = point[group] if group else ""
        if entity not in latest or point["bucket"] > latest[entity][0]:
            latest[entity] = (point["bucket"], point["value"])
    return latest
