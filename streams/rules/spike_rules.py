"""Spike rules: an indicator's latest window against its own recent past.

Stateless on purpose: every round queries the baseline range again, so a
restart loses nothing. Two baselines: the plain window (mean and standard
deviation of the earlier windows) and an EWMA (exponentially weighted mean
and variance, which follows a slow drift and flags only sudden moves). A
rule is armed only once an entity has `min_history` earlier windows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from streams.alerts.model import Observation
from streams.indicators.query import WINDOWS, IndicatorQuery
from streams.indicators.service import Reader, run
from streams.rules.conditions import SpikeCondition, WindowBaseline, finest
from streams.rules.evaluators import BuildContext, ScheduledCheck
from streams.rules.indicator_configs import SpikeRuleConfig


def window_baseline(history: list[float]) -> tuple[float, float]:
    mean = sum(history) / len(history)
    var = sum((x - mean) ** 2 for x in history) / max(len(history) - 1, 1)
    return mean, math.sqrt(var)


def ewma_baseline(history: list[float], alpha: float) -> tuple[float, float]:
    mean, var = history[0], 0.0
    for x in history[1:]:
        diff = x - mean
        mean += alpha * diff
        var = (1 - alpha) * (var + alpha * diff * diff)
    return mean, math.sqrt(var)


@dataclass(frozen=True)
class SpikeCheck:
    rule_id: str
    indicator: str
    window: str
    scope: str
    group: str | None
    lookback_s: float
    method: str  # "window" | "ewma"
    z: float | None
    clear_z: float
    min_history: int
    alpha: float = 0.3
    #: Instead of z: fire at this multiple of the baseline mean (or below 1/factor for direction down).
    factor: float | None = None
    direction: str = "up"  # up | down | both
    #: Values below this are never a spike (a hall going from 0 to 2 evaluations is not news).
    min_value: float | None = None
    #: Window baseline from the same time of day on earlier days only (queues follow the clock).
    same_time_of_day: bool = False
    #: A floor on the deviation, in the indicator's unit, so a flat series does not make every wobble infinite.
    min_std: float = 1e-9

    @classmethod
    def from_config(cls, config: SpikeRuleConfig, context: BuildContext) -> ScheduledCheck:
        check = cls.for_condition(config.id, config, str(config.scope), finest(config.group_by))
        return ScheduledCheck(check, float(config.every))

    @classmethod
    def for_condition(cls, rule_id: str, cond: SpikeCondition, scope: str, group: str | None) -> SpikeCheck:
        """The check of one condition, in the rule's scope, per `group` (None: the scope as a whole)."""
        b = cond.baseline
        if isinstance(b, WindowBaseline):
            method, lookback, alpha, same_time_of_day = "window", b.lookback, 1.0, b.same_time_of_day
        else:  # an EWMA reads its min_history earlier windows, the latest, and one to spare
            method, lookback, alpha, same_time_of_day = "ewma", cond.window_s * (cond.min_history + 2), b.alpha, False
        return cls(
            rule_id,
            cond.indicator,
            cond.window,
            scope,
            group,
            lookback,
            method,
            cond.z,
            clear_z=(cond.z or 1.0) / 2,
            min_history=cond.min_history,
            alpha=alpha,
            factor=cond.factor,
            direction=cond.direction,
            min_value=cond.min_value,
            same_time_of_day=same_time_of_day,
        )

    async def evaluate(self, reader: Reader, now: datetime) -> list[Observation]:
        size = WINDOWS[self.window]
        q = IndicatorQuery.build(
            self.scope, self.window, now - timedelta(seconds=self.lookback_s), now, now, group=self.group
        )
        series: dict[str, list[tuple[str, float]]] = {}
        for point in (await run(reader, self.indicator, q))["points"]:
            if point["value"] is not None:
                series.setdefault(point[self.group] if self.group else "", []).append((point["bucket"], point["value"]))
        out = []
        for entity, points in series.items():
            points.sort()
            *earlier, (bucket, value) = points
            # The latest window must be the current or the last one; otherwise the entity went quiet.
            latest = datetime.fromisoformat(bucket)
            if self.same_time_of_day:
                earlier = [(b, v) for b, v in earlier if datetime.fromisoformat(b).time() == latest.time()]
            if len(earlier) < self.min_history or latest < now - 2 * size:
                continue  # not armed yet, or the entity has no recent window
            if self.min_value is not None and value < self.min_value:
                continue
            history = [v for _, v in earlier]
            mean, std = ewma_baseline(history, self.alpha) if self.method == "ewma" else window_baseline(history)
            score = (value - mean) / max(std, self.min_std)
            breached, cleared = self._judge(value, mean, score)
            group = {self.group: entity} if self.group else {}
            evidence = {
                "indicator": self.indicator,
                "bucket": bucket,
                "value": value,
                "baseline": mean,
                "std": std,
                "z": score,
                "history": len(history),
            }
            out.append(Observation(self.rule_id, group, now, breached, cleared and not breached, value, evidence))
        return out

    def _judge(self, value: float, mean: float, score: float) -> tuple[bool, bool]:
        if self.factor is not None:
            up, down = value >= self.factor * mean, value * self.factor <= mean
            back = mean / self.factor < value < mean * self.factor
        else:
            z = self.z or 0.0
            up, down = score >= z, score <= -z
            back = abs(score) < self.clear_z
        fired = {"up": up, "down": down, "both": up or down}[self.direction]
        return fired, back
