"""The alert rule schema: one model per rule type, `Rule` the union discriminated on `type`.

Every rule model forbids unknown keys and, after its fields parse, checks
what only the catalogue and the event models know (the indicator exists and
has the window, the group keys make sense, the message only uses known
placeholders). It reports every such problem at once, as (field, message)
pairs in the error's context under `problems`, so the loader can name the
field of each. References between rules (composite → rule id) and duplicate
ids are checked by the loader, which sees all files.

Durations are whole seconds (`for_`, `cooldown`, `every`, ...); YAML writes
them as `90s`, `10m`, `2h`, `1d`.
"""

from __future__ import annotations

import string
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PlainSerializer,
    StrictStr,
    Tag,
    model_validator,
)
from pydantic_core import PydanticCustomError

from streams.definitions import STREAMS, StreamName
from streams.indicators.catalog import INDICATORS
from streams.indicators.query import Scope
from streams.rules.conditions import (
    GroupKey,
    Problem,
    RatioCondition,
    SpikeCondition,
    ThresholdCondition,
)
from streams.rules.durations import Duration, PositiveDuration
from streams.rules.events import (
    FIELD_GROUPS,
    REGISTRY_FIELDS,
    CaseStepName,
    EventMatch,
    event_problems,
)
from streams.rules.schedule import Schedule

#: Shortest evaluation interval of an indicator rule.
MIN_EVERY_S = 10
Severity = Literal["info", "warning", "critical"]
Domain = Literal["queue", "windows", "evaluation", "video", "data_quality"]
RuleId = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
LabelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
#: A notifier name, optionally with its channel: `webhook:duty`, `email:ops-gd`.
Route = Annotated[str, Field(max_length=100, pattern=r"^[a-z][a-z0-9_]*(?::[A-Za-z0-9_.\-]+)?$")]
#: Placeholders every message may use; each rule type adds its own (`PLACEHOLDERS`) and its group keys.
COMMON_PLACEHOLDERS = frozenset({"value", "threshold", "clear", "count", "window", "rule", "title"})
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "threshold": frozenset(),
    "ratio": frozenset({"denominator"}),
    "spike": frozenset({"baseline", "score"}),
    "absence": frozenset({"last_seen", "last_seen_local", "silent_for"}),
    "frequency": frozenset(),
    "persistent": frozenset({"state_for", "since_local", "state_value"}),
    "deadline": frozenset({"case_id", "case_no", "step", "deadline", "overdue_for"}),
    "composite": frozenset(),
}


def _scope(value: object) -> object:
    if isinstance(value, Scope):
        return value
    if not isinstance(value, str):
        raise ValueError("write a scope like province, city:440100 or hall:H440106001")  # noqa: TRY004 - pydantic reports only ValueError
    return Scope.parse(value)


ScopeField = Annotated[Scope, BeforeValidator(_scope), PlainSerializer(str, return_type=str)]


class RuleBase(BaseModel):
    """What every rule has. Group keys name what one alert is about: one fingerprint per rule and group."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: RuleId
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    severity: Severity
    domain: Domain
    #: Which part of the province the rule watches (`province`, `city:440100`, ...).
    scope: ScopeField = Scope("province")
    group_by: tuple[GroupKey, ...] = ()
    schedule: Schedule = Schedule()
    #: A resolved alert cannot fire again for the same fingerprint within this.
    cooldown: Duration = 0
    labels: dict[LabelName, StrictStr] = Field(default_factory=dict)
    #: str.format template; `{value:.0f}` style format specs are allowed.
    message: str = Field(default="{title}", max_length=1000)
    routes: tuple[Route, ...] = ()
    enabled: bool = Field(default=True, strict=True)

    @model_validator(mode="after")
    def _check(self) -> RuleBase:
        problems = self.problems()
        if problems:
            summary = "; ".join(f"{field}: {message}" for field, message in problems)
            raise PydanticCustomError("rule_invalid", "{summary}", {"summary": summary, "problems": problems})
        return self

    def problems(self) -> list[Problem]:
        """Every problem the field types alone cannot catch, as (field, message)."""
        out: list[Problem] = []
        if len(set(self.group_by)) != len(self.group_by):
            out.append(("group_by", "a key is listed twice"))
        if self.schedule.opening == "hall" and "hall" not in self.group_by:
            out.append(("schedule.opening", "`hall` (each hall's own opening hours) needs the rule grouped by hall"))
        return out + self._message_problems()

    def placeholders(self) -> frozenset[str]:
        """The names `message` may use."""
        type_name = getattr(self, "type", "")
        return COMMON_PLACEHOLDERS | PLACEHOLDERS.get(type_name, frozenset()) | frozenset(self.group_by)

    def _message_problems(self) -> list[Problem]:
        try:
            parts = list(string.Formatter().parse(self.message))
        except ValueError as exc:
            return [("message", f"not a valid template: {exc}")]
        known = self.placeholders()
        for _, name, _, _ in parts:
            if name is None:
                continue
            if name == "" or name.isdigit():
                return [("message", "placeholders need a name, e.g. {value}")]
            if name not in known:
                return [("message", f"unknown placeholder {{{name}}}; use {', '.join(sorted(known))}")]
        return []


class IndicatorRule(RuleBase):
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


class ThresholdRule(IndicatorRule, ThresholdCondition):
    """Fires when `indicator op threshold` has held for `for`; resolves when `indicator op clear` no longer holds."""

    for_: Duration = Field(default=0, alias="for")

    def problems(self) -> list[Problem]:
        return ThresholdCondition.problems(self, self.group_by, self.scope) + IndicatorRule.problems(self)


class RatioRule(IndicatorRule, RatioCondition):
    """A threshold rule on a ratio indicator that stays silent while `denominator` < `min_denominator`."""

    for_: Duration = Field(default=0, alias="for")

    def problems(self) -> list[Problem]:
        return RatioCondition.problems(self, self.group_by, self.scope) + IndicatorRule.problems(self)


class SpikeRule(IndicatorRule, SpikeCondition):
    """Fires when the indicator leaves its baseline by `z` or `factor` for `for`, once `min_history` points exist."""

    for_: Duration = Field(default=0, alias="for")

    def problems(self) -> list[Problem]:
        return SpikeCondition.problems(self, self.group_by, self.scope) + IndicatorRule.problems(self)


class EventRule(RuleBase):
    """Rules that watch events of one stream, per value of the event fields in `key`.

    group_by follows from key (staff_id → staff, hall_id → hall, ...) and is
    filled in when left out. Events missing a key field are ignored.
    """

    stream: StreamName
    #: Event field → value or list of values; all fields must match. `type` narrows the event kinds.
    match: EventMatch = Field(default_factory=dict)
    key: Annotated[tuple[str, ...], BeforeValidator(lambda v: (v,) if isinstance(v, str) else v)] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _group_by_from_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "group_by" not in data:
            key = data.get("key")
            fields = [key] if isinstance(key, str) else key
            if isinstance(fields, list) and all(isinstance(f, str) and f in FIELD_GROUPS for f in fields):
                data = {**data, "group_by": [FIELD_GROUPS[f] for f in fields]}
        return data

    def problems(self) -> list[Problem]:
        out = event_problems(self.stream, self.match, self.key)
        if self.scope.kind not in STREAMS[self.stream].scopes:
            kinds = ", ".join(STREAMS[self.stream].scopes)
            out.append(("scope", f"{self.stream} events cannot be placed in a {self.scope.kind} scope; use {kinds}"))
        wanted = [FIELD_GROUPS[f] for f in self.key if f in FIELD_GROUPS]
        if not out and sorted(self.group_by) != sorted(wanted):
            why = f"a {getattr(self, 'type', '')} rule is grouped by its key; leave group_by out or write [{', '.join(wanted)}]"
            out.append(("group_by", why))
        return out + super().problems()


class AbsenceRule(EventRule):
    """Fires when a key sends no matching event for `missed` × `expected_interval` inside the schedule.

    Silence is measured from the later of the key's last matching event and the start of the
    current schedule span (a hall is not silent at 09:00 because it said nothing overnight).
    """

    type: Literal["absence"]
    expected_interval: PositiveDuration
    #: Missed intervals before the key counts as silent (GB/T 28181 counts a node offline after 3).
    missed: int = Field(default=3, strict=True, ge=1, le=1000)
    #: registry: every key the org registry lists is expected (a node that never spoke is silent too);
    #: seen: only keys that have sent a matching event since the engine started.
    expect: Literal["registry", "seen"] = "registry"
    #: An event field with the sender's own interval in seconds (node_heartbeat: interval_s); a key that
    #: has sent one is silent after `missed` of its own intervals. expected_interval covers the others.
    interval_field: str | None = Field(default=None, max_length=64)

    @property
    def silence_s(self) -> int:
        return self.expected_interval * self.missed

    def problems(self) -> list[Problem]:
        out = super().problems()
        if len(self.key) != 1:
            out.append(("key", "an absence rule watches one field, e.g. node_id or source"))
        elif self.expect == "registry" and self.key[0] not in REGISTRY_FIELDS:
            out.append(("expect", f"the registry does not list {self.key[0]} values; write expect: seen"))
        if self.interval_field is not None and not any(
            self.interval_field in m.model_fields for m in STREAMS[self.stream].models
        ):
            out.append(("interval_field", f"{self.stream} events have no field {self.interval_field!r}"))
        return out


class FrequencyRule(EventRule):
    """Fires when `count` or more matching events with the same key values occurred within `within`.

    Counted by occurred_at over a sliding window; resolves once the count in the
    last `within` is below `count`.
    """

    type: Literal["frequency"]
    count: int = Field(strict=True, ge=1)
    within: PositiveDuration


class PersistentRule(EventRule):
    """Fires when a key's events keep showing `state` for `for` (a camera black or frozen for 10 minutes).

    Each event `match` selects sets its key's state: one matching `state` starts or continues the
    run, any other ends it and resolves the alert. A key whose last event is older than `expire`
    is no longer known to be in the state and resolves too: absence rules speak for silent senders.
    """

    type: Literal["persistent"]
    #: Event field → values that make up the state, e.g. {status: [black, frozen]}.
    state: EventMatch = Field(min_length=1)
    for_: PositiveDuration = Field(alias="for")
    #: Longer than the gap between a key's events (the probe cycle), or runs end between events.
    expire: PositiveDuration = 1800

    def problems(self) -> list[Problem]:
        out = super().problems()
        found = event_problems(self.stream, {**self.match, **self.state}, self.key)
        out += [
            (field.replace("match.", "state.", 1), why)
            for field, why in found
            if field.removeprefix("match.") in self.state and (field, why) not in out
        ]
        return out


class DeadlineRule(RuleBase):
    """One alert per bad-review case whose current deadline (+ `grace`) passed before the awaited step.

    The deadline is the one the case's latest step set: its occurred_at plus
    deadline_working_days, counted by `streams.workdays.WorkingDays.deadline`.
    With `step`, only cases still awaiting that step type (and not closed) are
    considered; with `any_next_step`, every open case whose latest step set a
    deadline. group_by may add the case's dept and city as labels.
    """

    type: Literal["deadline"]
    step: CaseStepName | None = None
    any_next_step: bool = Field(default=False, strict=True)
    grace: Duration = 0

    def problems(self) -> list[Problem]:
        out: list[Problem] = []
        if (self.step is None) == (not self.any_next_step):
            out.append(("step", "give either step (the case step awaited) or any_next_step: true"))
        if self.step == "case_created":
            out.append(("step", "case_created starts a case; no deadline leads to it"))
        if self.scope.kind not in STREAMS["case"].scopes:
            out.append(("scope", f"cases cannot be placed in a {self.scope.kind} scope; use province, city or dept"))
        for key in self.group_by:
            if key not in ("city", "dept"):
                out.append(("group_by", f"a deadline alert is per case; it can carry city and dept, not {key}"))
        return out + super().problems()


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


class CompositeRule(IndicatorRule):
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
                problems = cond.problems(self.group_by, self.scope)
                out += [(f"all.{index}.{field}", message) for field, message in problems]
        return out + super().problems()


Rule = Annotated[
    ThresholdRule | RatioRule | SpikeRule | AbsenceRule | FrequencyRule | PersistentRule | DeadlineRule | CompositeRule,
    Field(discriminator="type"),
]
RULE_TYPES: dict[str, type[RuleBase]] = {
    get_args(cls.model_fields["type"].annotation)[0]: cls
    for cls in (
        ThresholdRule,
        RatioRule,
        SpikeRule,
        AbsenceRule,
        FrequencyRule,
        PersistentRule,
        DeadlineRule,
        CompositeRule,
    )
}


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
    rules: list[Rule] = Field(default_factory=list)

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
