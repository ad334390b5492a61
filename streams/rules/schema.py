"""The alert rule schema: every rule type by name (`RULE_TYPES`), and the model of one `alert_rules/*.yaml` file.

A rule type is its config model (`streams.rules.indicator_configs`,
`streams.rules.event_configs`) and the factory of its evaluator; adding one
is a config class, an evaluator and one line in `RULE_TYPES`. The union of a
file's `rules:` list, discriminated on `type`, is built from that mapping.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictStr, model_validator

from streams.rules.composite_rules import CompositeCheck
from streams.rules.deadline_rules import DeadlineCheck
from streams.rules.durations import Duration
from streams.rules.evaluators import BuildContext, Evaluator
from streams.rules.event_configs import (
    AbsenceRuleConfig,
    DeadlineRuleConfig,
    FrequencyRuleConfig,
    PersistentRuleConfig,
)
from streams.rules.event_rules import AbsenceRule, FrequencyRule, PersistentRule
from streams.rules.indicator_configs import (
    CompositeRuleConfig,
    RatioRuleConfig,
    SpikeRuleConfig,
    ThresholdRuleConfig,
)
from streams.rules.indicator_rules import ThresholdCheck
from streams.rules.rule_config import LabelName, Route, RuleConfig, ScopeField, Severity
from streams.rules.schedule import Schedule
from streams.rules.spike_rules import SpikeCheck

C = TypeVar("C", bound=RuleConfig)


@dataclass(frozen=True)
class RuleType(Generic[C]):
    """One rule type: the model of its YAML, and what builds its evaluator from a validated config."""

    config: type[C]
    evaluator: Callable[[C, BuildContext], Evaluator]

    @property
    def name(self) -> str:
        """The value of `type:` that selects this rule type in a rule file."""
        name: str = get_args(self.config.model_fields["type"].annotation)[0]
        return name


#: Every rule type, by the name a rule file gives in `type:`, in the order `govpulse rules check` lists them.
RULE_TYPES: dict[str, RuleType[Any]] = {
    t.name: t
    for t in (
        RuleType(ThresholdRuleConfig, ThresholdCheck.from_config),
        RuleType(RatioRuleConfig, ThresholdCheck.from_config),
        RuleType(SpikeRuleConfig, SpikeCheck.from_config),
        RuleType(AbsenceRuleConfig, AbsenceRule.from_config),
        RuleType(FrequencyRuleConfig, FrequencyRule.from_config),
        RuleType(PersistentRuleConfig, PersistentRule.from_config),
        RuleType(DeadlineRuleConfig, DeadlineCheck.from_config),
        RuleType(CompositeRuleConfig, CompositeCheck.from_config),
    )
}

if TYPE_CHECKING:
    #: Statically, any rule config; what the rule's type adds is reached by isinstance on its config class.
    AnyRuleConfig = RuleConfig
else:
    #: One rule of a file: the config of the rule type its `type:` names.
    AnyRuleConfig = Annotated[
        Union[tuple(t.config for t in RULE_TYPES.values())],  # noqa: UP007 - a union of a runtime tuple has no `|` form
        Field(discriminator="type"),
    ]


class RuleDefaults(BaseModel):
    """Values a rule file gives every rule that does not set them; labels are merged, the rule's winning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity | None = None
    scope: ScopeField | None = None
    schedule: Schedule | None = None
    cooldown: Duration | None = None
    labels: dict[LabelName, StrictStr] | None = None
    routes: tuple[Route, ...] | None = None
    enabled: bool | None = Field(default=None, strict=True)


class RuleFile(BaseModel):
    """One `alert_rules/*.yaml` file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    defaults: RuleDefaults | None = None
    rules: list[AnyRuleConfig] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("defaults"), dict)
            or not isinstance(data.get("rules"), list)
        ):
            return data
        defaults = data["defaults"]
        try:
            RuleDefaults.model_validate(defaults)
        except ValueError:
            return data  # reported under defaults; rules are checked as written
        return {**data, "rules": [apply_defaults(rule, defaults) for rule in data["rules"]]}


def apply_defaults(rule: Any, defaults: dict[str, Any]) -> Any:
    """The raw rule with the raw defaults filled in (labels merged, the rule's own winning)."""
    if not isinstance(rule, dict):
        return rule
    merged = {**{k: v for k, v in defaults.items() if k != "labels"}, **rule}
    if isinstance(defaults.get("labels"), dict) and isinstance(rule.get("labels", {}), dict):
        merged["labels"] = {**defaults["labels"], **rule.get("labels", {})}
    return merged
