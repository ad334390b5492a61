"""Configs of the rules that watch events: absence, frequency and persistent on a stream, deadline on case steps.

Each names the stream it watches and the event fields that key its alerts;
what a stream's events may be matched and keyed on is `streams.rules.events`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator

from streams.definitions import STREAMS, StreamName
from streams.rules.conditions import Problem
from streams.rules.durations import Duration, PositiveDuration, format_duration
from streams.rules.events import (
    FIELD_GROUPS,
    REGISTRY_FIELDS,
    CaseStepName,
    EventMatch,
    event_problems,
)
from streams.rules.rule_config import RuleConfig


class EventRuleConfig(RuleConfig):
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
            why = f"a {self.type} rule is grouped by its key; leave group_by out or write [{', '.join(wanted)}]"
            out.append(("group_by", why))
        return out + super().problems()


class AbsenceRuleConfig(EventRuleConfig):
    """Fires when a key sends no matching event for `missed` × `expected_interval` inside the schedule.

    Silence is measured from the later of the key's last matching event and the start of the
    current schedule span (a hall is not silent at 09:00 because it said nothing overnight).
    """

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"last_seen", "last_seen_local", "silent_for"})

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


class FrequencyRuleConfig(EventRuleConfig):
    """Fires when `count` or more matching events with the same key values occurred within `within`.

    Counted by occurred_at over a sliding window; resolves once the count in the
    last `within` is below `count`.
    """

    type: Literal["frequency"]
    count: int = Field(strict=True, ge=1)
    within: PositiveDuration

    def message_values(self) -> dict[str, object]:
        return {"window": format_duration(self.within)}


class PersistentRuleConfig(EventRuleConfig):
    """Fires when a key's events keep showing `state` for `for` (a camera black or frozen for 10 minutes).

    Each event `match` selects sets its key's state: one matching `state` starts or continues the
    run, any other ends it and resolves the alert. A key whose last event is older than `expire`
    is no longer known to be in the state and resolves too: absence rules speak for silent senders.
    """

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"state_for", "since_local", "state_value"})

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


class DeadlineRuleConfig(RuleConfig):
    """One alert per bad-review case whose current deadline (+ `grace`) passed before the awaited step.

    The deadline is the one the case's latest step set: its occurred_at plus
    deadline_working_days, counted by `streams.workdays.WorkingDays.deadline`.
    With `step`, only cases still awaiting that step type (and not closed) are
    considered; with `any_next_step`, every open case whose latest step set a
    deadline. group_by may add the case's dept and city as labels.
    """

    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"case_id", "case_no", "step", "deadline", "overdue_for"})

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
