"""Configs of the rules that read the rolling indicators on a timer: threshold, ratio, spike and composite.

Each is a rule (`RuleConfig`) and, but for composite, one condition of
`streams.rules.conditions`; a composite holds several conditions, inline or
as references to other rules.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from streams.indicators.catalog import INDICATORS
from streams.rules.conditions import Problem, RatioCondition, SpikeCondition, ThresholdCondition
from streams.rules.durations import Duration, PositiveDuration
from streams.rules.rule_config import RuleConfig, RuleId
from streams.rules.spike_baselines import CusumBaseline

#: Shortest evaluation interval of an indicator rule.
MIN_EVERY_S = 10


class IndicatorRuleConfig(RuleConfig):
    """Rules that read an indicator every `every` seconds, per group."""

    every: PositiveDuration = 60

    def placeholders(self) -> frozenset[str]:
        ind = INDICATORS.get(getattr(self, "indicator", ""))
        extra = {ind.grouped_by} if ind is not None and ind.grouped_by else set()
        return super().placeholders() | extra

    def problems(self) -> list[Problem]:
        out = super().problems()
        window_s = getattr(self, "window_s", 0)
        if self.every < MIN_EVERY_S:
            out.append(("every", f"at least {MIN_EVERY_S}s: indicators are ClickHouse queries"))
        elif window_s and self.every > window_s:
            out.append(("every", f"evaluating less often than the window ({self.every}s > {window_s}s) skips data"))
        return out


class ThresholdRuleConfig(IndicatorRuleConfig, ThresholdCondition):
    """Fires when `indicator op threshold` has held for `for`; resolves when `indicator op clear` no longer holds."""

    type: Literal["threshold"] = "threshold"
    for_: Duration = Field(default=0, alias="for")

    def problems(self) -> list[Problem]:
        return self.condition_problems(self.group_by, self.scope) + super().problems()

    def message_values(self) -> dict[str, object]:
        return {"window": self.window, **self.comparison_values()}


class RatioRuleConfig(IndicatorRuleConfig, RatioCondition):
    """A threshold rule on a ratio indicator that stays silent while `denominator` < `min_denominator`."""

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"denominator"})

    type: Literal["ratio"] = "ratio"
    for_: Duration = Field(default=0, alias="for")

    def problems(self) -> list[Problem]:
        return self.condition_problems(self.group_by, self.scope) + super().problems()

    def message_values(self) -> dict[str, object]:
        return {"window": self.window, **self.comparison_values(), "denominator_name": self.denominator}


class SpikeRuleConfig(IndicatorRuleConfig, SpikeCondition):
    """Fires when an entity's window scores `score` (or `z` spreads) against its baseline for `for`.

    Each entity's baseline is a detector learned window by window and kept
    between rounds (see `SpikeCondition` for the keys and what each means);
    it can fire once it has learned `min_history` points. Messages may quote
    `{baseline}` (the value expected) and `{score}` (0 to 1).
    """

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"baseline", "score"})

    type: Literal["spike"] = "spike"
    for_: Duration = Field(default=0, alias="for")

    def problems(self) -> list[Problem]:
        return self.condition_problems(self.group_by, self.scope) + self._held_problems() + super().problems()

    def _held_problems(self) -> list[Problem]:
        if isinstance(self.baseline, CusumBaseline) and self.for_ >= self.window_s:
            why = (
                "a CUSUM takes a shift as the new normal once it confirms it, and is unarmed while it re-learns, "
                f"so its score never holds past the {self.window} window that confirmed it; leave `for` out"
            )
            return [("for", why)]
        return []

    def message_values(self) -> dict[str, object]:
        return {"window": self.window, "threshold": self.threshold_score}


class RuleRef(BaseModel):
    """A composite condition that holds while the referenced rule is firing for the same group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: RuleId


def _condition_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return "ref" if "rule" in value else value.get("type")
    return "ref" if isinstance(value, RuleRef) else getattr(value, "type", None)


CompositeCondition = Annotated[
    Annotated[RuleRef, Tag("ref")]
    | Annotated[ThresholdCondition, Tag("threshold")]
    | Annotated[RatioCondition, Tag("ratio")]
    | Annotated[SpikeCondition, Tag("spike")],
    Discriminator(
        _condition_tag,
        custom_error_type="condition_kind",
        custom_error_message="write {rule: <id>} or an inline condition with type threshold, ratio or spike",
    ),
]


class CompositeRuleConfig(IndicatorRuleConfig):
    """Fires when all conditions hold for the same group, for `for`.

    A reference holds while that rule fires for the group (its own for and
    clear apply, and it counts even if it is disabled); an inline condition
    holds while its comparison does at this evaluation. Inline conditions use
    the composite's scope and group_by; referenced rules must have the same group_by.
    """

    type: Literal["composite"]
    conditions: tuple[CompositeCondition, ...] = Field(alias="all", min_length=2)
    for_: Duration = Field(default=0, alias="for")

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        for index, cond in enumerate(self.conditions):
            if not isinstance(cond, RuleRef):
                problems = cond.condition_problems(self.group_by, self.scope)
                out += [(f"all.{index}.{field}", message) for field, message in problems]
        return out + super().problems()
