"""What every alert rule's config has (`RuleConfig`), and the field types the rule configs share.

Every rule config forbids unknown keys and, after its fields parse, checks
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
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictStr,
    model_validator,
)
from pydantic_core import PydanticCustomError

from streams.indicators.query import Scope
from streams.rules.conditions import GroupKey, Problem
from streams.rules.durations import Duration
from streams.rules.schedule import Schedule

Severity = Literal["info", "warning", "critical"]
Domain = Literal["queue", "windows", "evaluation", "video", "data_quality"]
RuleId = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
LabelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
#: A notifier name, optionally with its channel: `webhook:duty`, `email:ops-gd`.
Route = Annotated[str, Field(max_length=100, pattern=r"^[a-z][a-z0-9_]*(?::[A-Za-z0-9_.\-]+)?$")]
#: Placeholders every message may use; each rule type adds its own (`PLACEHOLDERS`) and its group keys.
COMMON_PLACEHOLDERS = frozenset({"value", "threshold", "clear", "count", "window", "rule", "title"})


def _scope(value: object) -> object:
    if isinstance(value, Scope):
        return value
    if not isinstance(value, str):
        raise ValueError("write a scope like province, city:440100 or hall:H440106001")  # noqa: TRY004 - pydantic reports only ValueError
    return Scope.parse(value)


ScopeField = Annotated[Scope, BeforeValidator(_scope), PlainSerializer(str, return_type=str)]


class RuleConfig(BaseModel):
    """What every rule has. Group keys name what one alert is about: one fingerprint per rule and group."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    #: Placeholders this rule type's message may use besides the common ones and the group keys.
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset()

    #: The rule type's name; each rule type narrows it to its own literal, the discriminator of a rule file.
    type: str
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
    def _check(self) -> RuleConfig:
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
        return COMMON_PLACEHOLDERS | self.PLACEHOLDERS | frozenset(self.group_by)

    def message_values(self) -> dict[str, object]:
        """The rule's own numbers a message may show (window, threshold, clear), beside the observation's."""
        return {}

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
