"""Event rules, evaluated on the stream: frequency (N matching events per key in a window), absence, persistent.

Pure and clock-driven, in the manner of ElastAlert's rule types: `add` takes
one validated event with its event time, `tick` takes the current time and
ages windows out. Both return Observations for the alert lifecycle; a key
whose events stop is cleared by `tick`, not left firing. Each is built from
its config by `from_config` and meets `streams.rules.evaluators.EventRule`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from streams.alerts.model import Observation
from streams.registry import Registry
from streams.rules.durations import format_duration
from streams.rules.evaluators import BuildContext
from streams.rules.event_configs import AbsenceRuleConfig, FrequencyRuleConfig, PersistentRuleConfig
from streams.rules.events import FIELD_GROUPS
from streams.workdays import SHANGHAI

_EVIDENCE_IDS = 20


def matches(event: Mapping[str, Any], match: Mapping[str, frozenset[str]]) -> bool:
    for name, allowed in match.items():  # noqa: SIM110 - a loop, not all(...): this runs for every event and rule
        if str(event.get(name)) not in allowed:
            return False
    return True


def group_of(event: Mapping[str, Any], key: tuple[str, ...], city: int | None) -> dict[str, str] | None:
    """The alert's group for this event, or None when a key field is missing (such events cannot be counted)."""
    group = {"city": str(city)} if city else {}
    for name in key:
        value = event.get(name)
        if value in (None, ""):
            return None
        group[FIELD_GROUPS.get(name, name)] = str(value)
    return group


@dataclass
class _Window:
    group: dict[str, str]
    events: deque[tuple[datetime, str]] = field(default_factory=deque)
    ids: set[str] = field(default_factory=set)
    breached: bool = False


class _KeyedRule:
    """What every event rule has: the stream it watches, which events match, and the fields that key its alerts."""

    def __init__(self, rule_id: str, stream: str, match: Mapping[str, Iterable[str]], key: tuple[str, ...]) -> None:
        self.rule_id = rule_id
        self.stream = stream
        self.match = {name: frozenset(str(v) for v in values) for name, values in match.items()}
        self.key = key

    def _group(self, event: Mapping[str, Any], city: int | None) -> dict[str, str] | None:
        """The alert group of a matching event; None for an event the rule does not count."""
        if not matches(event, self.match):
            return None
        return group_of(event, self.key, city)


class FrequencyRule(_KeyedRule):
    """Fires when a key has `count` or more matching events within `within`."""

    def __init__(
        self,
        rule_id: str,
        stream: str,
        match: Mapping[str, Iterable[str]],
        key: tuple[str, ...],
        count: int,
        within_s: float,
    ) -> None:
        super().__init__(rule_id, stream, match, key)
        self.count = count
        self.within = timedelta(seconds=within_s)
        self._windows: dict[tuple[tuple[str, str], ...], _Window] = {}

    @classmethod
    def from_config(cls, config: FrequencyRuleConfig, context: BuildContext) -> FrequencyRule:
        return cls(config.id, config.stream, dict(config.match), config.key, config.count, float(config.within))

    def add(self, event: Mapping[str, Any], at: datetime, city: int | None) -> list[Observation]:
        group = self._group(event, city)
        if group is None:
            return []
        k = tuple(sorted(group.items()))
        window = self._windows.get(k)
        if window is None:  # not setdefault: that would build a window, its deque and its set for every event
            window = self._windows[k] = _Window(group)
        event_id = str(event.get("event_id"))
        if event_id in window.ids:
            return []  # a redelivered event is counted once
        window.events.append((at, event_id))
        window.ids.add(event_id)
        return self._check(window, at)

    def tick(self, now: datetime) -> list[Observation]:
        out = []
        for key, window in list(self._windows.items()):
            out += self._check(window, now)
            if not window.events and not window.breached:
                del self._windows[key]
        return out

    def _check(self, window: _Window, now: datetime) -> list[Observation]:
        while window.events and window.events[0][0] <= now - self.within:
            _, old_id = window.events.popleft()
            window.ids.discard(old_id)
        n = len(window.events)
        breached = n >= self.count
        if not breached and not window.breached:
            return []
        window.breached = breached
        evidence = {
            "count": n,
            "within_s": self.within.total_seconds(),
            "event_ids": [eid for _, eid in list(window.events)[-_EVIDENCE_IDS:]],
        }
        return [Observation(self.rule_id, window.group, now, breached, not breached, float(n), evidence)]


class AbsenceRule(_KeyedRule):
    """Fires when a key that should keep sending has been silent for `missed` expected intervals."""

    def __init__(
        self,
        rule_id: str,
        stream: str,
        match: Mapping[str, Iterable[str]],
        key: tuple[str, ...],
        expected_interval_s: float,
        missed: int,
        interval_field: str | None = None,
    ) -> None:
        super().__init__(rule_id, stream, match, key)
        self.missed = missed
        self.limit = timedelta(seconds=expected_interval_s * missed)
        #: An event field holding the sender's own interval in seconds (a node's heartbeat period):
        #: that key is silent after `missed` of its own intervals, not of the rule's.
        self.interval_field = interval_field
        self._limits: dict[tuple[tuple[str, str], ...], timedelta] = {}
        self._last_seen: dict[tuple[tuple[str, str], ...], tuple[dict[str, str], datetime]] = {}
        self._breached: set[tuple[tuple[str, str], ...]] = set()
        #: Breached keys heard again since the last tick: cleared again at the tick's time, because the clear sent
        #: at the event's own time is older than the book's last look at the alert (a tick's) when the event
        #: took longer to arrive than the gap since that tick, and the book drops an observation older than that.
        self._heard_again: dict[tuple[tuple[str, str], ...], dict[str, str]] = {}

    @classmethod
    def from_config(cls, config: AbsenceRuleConfig, context: BuildContext) -> AbsenceRule:
        """The rule, expecting from now on every key the registry lists when the config says `expect: registry`."""
        rule = cls(
            config.id,
            config.stream,
            dict(config.match),
            config.key,
            float(config.expected_interval),
            config.missed,
            config.interval_field,
        )
        if config.expect == "registry":
            rule.expect(expected_groups(config.key[0], context.registry), since=context.now)
        return rule

    def expect(self, groups: Iterable[Mapping[str, str]], since: datetime) -> None:
        """Keys that must send from `since` on even if they never have (e.g. every video node in the registry)."""
        for group in groups:
            self._last_seen.setdefault(tuple(sorted(group.items())), (dict(group), since))

    def adopt(self, groups: Iterable[Mapping[str, str]]) -> None:
        """Groups that have an alert already (raised before a rule reload): the next event of one clears it."""
        self._breached.update(tuple(sorted(group.items())) for group in groups)

    def add(self, event: Mapping[str, Any], at: datetime, city: int | None) -> list[Observation]:
        group = self._group(event, city)
        if group is None:
            return []
        k = tuple(sorted(group.items()))
        previous = self._last_seen.get(k)
        if previous is None or at > previous[1]:
            self._last_seen[k] = (group, at)
            interval = event.get(self.interval_field) if self.interval_field else None
            if isinstance(interval, (int, float)) and not isinstance(interval, bool) and 0 < interval <= 86_400:
                self._limits[k] = timedelta(seconds=float(interval) * self.missed)
        if k in self._breached:
            self._breached.discard(k)
            self._heard_again[k] = group
            return [Observation(self.rule_id, group, at, False, True, 0.0, {"last_seen": at.isoformat()})]
        return []

    def tick(self, now: datetime) -> list[Observation]:
        out = [
            Observation(self.rule_id, group, now, False, True, 0.0, {"last_seen": self._last_seen[k][1].isoformat()})
            for k, group in self._heard_again.items()
            if k not in self._breached
        ]
        self._heard_again.clear()
        for k, (group, last) in self._last_seen.items():
            silent = now - last
            if silent > self._limits.get(k, self.limit):
                self._breached.add(k)
                seconds = int(silent.total_seconds())
                evidence = {
                    "last_seen": last.isoformat(),
                    "silent_s": silent.total_seconds(),
                    # For messages: whole minutes (seconds under one), and the local time duty staff read.
                    "silent_for": format_duration(seconds if seconds < 60 else seconds // 60 * 60),
                    "last_seen_local": last.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S"),
                }
                out.append(Observation(self.rule_id, group, now, True, False, silent.total_seconds(), evidence))
        return out


def expected_groups(field: str, registry: Registry) -> list[dict[str, str]]:
    """Every registry entity an absence rule on `field` should hear from, as alert groups."""
    if field == "node_id":
        return [{"city": str(n.city_code), "node": n.node_id} for n in registry.nodes()]
    if field == "source":
        return [{"city": str(s.city_code), "source": s.source_id} for s in registry.sources()]
    if field == "hall_id":
        return [{"city": str(h.city_code), "hall": h.hall_id} for h in registry.halls()]
    if field == "camera_id":
        out = []
        for c in registry.cameras():
            hall = registry.hall(c.hall_id)
            out.append({"city": str(hall.city_code if hall else 0), "camera": c.camera_id})
        return out
    return []


@dataclass
class _Run:
    group: dict[str, str]
    last_at: datetime
    since: datetime | None = None  # start of the current run in the state; None when not in it
    value: str = ""
    ids: deque[str] = field(default_factory=lambda: deque(maxlen=_EVIDENCE_IDS))
    open: bool = False  # a breached observation went out since the last clear


class PersistentRule(_KeyedRule):
    """Fires when a key's events have shown `state` without a break for `for_s` (the book's pending time)."""

    def __init__(
        self,
        rule_id: str,
        stream: str,
        match: Mapping[str, Iterable[str]],
        key: tuple[str, ...],
        state: Mapping[str, Iterable[str]],
        expire_s: float,
    ) -> None:
        super().__init__(rule_id, stream, match, key)
        self.state = {name: frozenset(str(v) for v in values) for name, values in state.items()}
        self.expire = timedelta(seconds=expire_s)
        self._runs: dict[tuple[tuple[str, str], ...], _Run] = {}

    @classmethod
    def from_config(cls, config: PersistentRuleConfig, context: BuildContext) -> PersistentRule:
        return cls(config.id, config.stream, dict(config.match), config.key, dict(config.state), float(config.expire))

    def add(self, event: Mapping[str, Any], at: datetime, city: int | None) -> list[Observation]:
        group = self._group(event, city)
        if group is None:
            return []
        k = tuple(sorted(group.items()))
        run = self._runs.get(k)
        if run is None:
            run = self._runs[k] = _Run(group, at)
        elif at <= run.last_at:
            return []  # a redelivered or late event does not rewrite the state
        run.last_at = at
        if matches(event, self.state):
            since = run.since = run.since or at
            run.value = "/".join(str(event.get(name)) for name in self.state)
            run.ids.append(str(event.get("event_id")))
            run.open = True
            return [self._observe(run, since, at)]
        was_open, run.since, run.open = run.open, None, False
        run.ids.clear()
        return (
            [Observation(self.rule_id, group, at, False, True, 0.0, {"cleared_by": str(event.get("event_id"))})]
            if was_open
            else []
        )

    def tick(self, now: datetime) -> list[Observation]:
        out = []
        for k, run in list(self._runs.items()):
            if now - run.last_at > self.expire:
                if run.open:  # nothing heard for too long: the state is no longer known
                    out.append(Observation(self.rule_id, run.group, now, False, True, 0.0, {"expired": True}))
                del self._runs[k]
            elif run.since is not None:
                out.append(self._observe(run, run.since, now))
            elif run.open:  # the clearing event may have come older than the book's last observation
                run.open = False
                out.append(Observation(self.rule_id, run.group, now, False, True, 0.0, {}))
        return out

    def _observe(self, run: _Run, since: datetime, at: datetime) -> Observation:
        """The run in the state since `since`, seen at `at`."""
        lasting = int((at - since).total_seconds())
        evidence = {
            "since": since.isoformat(),
            "state_value": run.value,
            "event_ids": list(run.ids),
            "state_for": format_duration(lasting if lasting < 60 else lasting // 60 * 60),
            "since_local": since.astimezone(SHANGHAI).strftime("%m-%d %H:%M:%S"),
        }
        return Observation(self.rule_id, run.group, at, True, False, float(lasting), evidence)
