"""Alerts, the observations that drive them, and the notices they produce.

Plain data plus its JSON form (for the Redis snapshot and the alerts topic).
The state machine lives in `streams.alerts.lifecycle`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

AlertState = Literal["pending", "firing", "resolved"]
NoticeKind = Literal["firing", "resolved", "acknowledged", "silenced", "unsilenced", "inhibited", "uninhibited"]
MatchOp = Literal["=", "!=", "=~", "!~"]

# Label values are short codes and names; a long pattern is a mistake or an attack
# (Python's re has no timeout, so the pattern size is what we can bound).
MAX_PATTERN_CHARS = 256
MATCH_OPS = ("=", "!=", "=~", "!~")
MAX_FLAPS = 64  # state changes remembered per fingerprint, so the largest max_flaps that can work


def fingerprint(rule_id: str, group: Mapping[str, str]) -> str:
    """One id per rule and group key, the same in every process (sha256, not hash())."""
    payload = json.dumps([rule_id, sorted(group.items())], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")


def to_iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def from_iso(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


@dataclass(frozen=True)
class Observation:
    """What a rule evaluator saw for one group at one instant."""

    rule_id: str
    group: Mapping[str, str]
    at: datetime
    breached: bool
    cleared: bool  # without hysteresis: not breached
    value: float | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        require_aware("Observation.at", self.at)
        if self.breached and self.cleared:
            raise ValueError(f"rule {self.rule_id}: an observation cannot be both breached and cleared")


@dataclass(frozen=True)
class Ack:
    by: str
    at: datetime
    comment: str = ""


@dataclass
class Alert:
    """One episode of one rule for one group, as the monitoring center shows it."""

    fingerprint: str
    rule_id: str
    group: Mapping[str, str]
    state: AlertState
    severity: str
    labels: Mapping[str, str]
    episode: int
    started_at: datetime  # first breach of this episode
    fired_at: datetime | None = None
    resolved_at: datetime | None = None
    last_value: float | None = None
    evidence: Mapping[str, object] = field(default_factory=dict)
    ack: Ack | None = None
    silenced_by: str | None = None
    inhibited_by: str | None = None
    flapping: bool = False

    def match_labels(self) -> dict[str, str]:
        """The labels silences and inhibit rules see: rule labels, group keys, rule and severity."""
        return {**self.labels, **self.group, "rule": self.rule_id, "severity": self.severity}

    def to_dict(self) -> dict[str, Any]:
        ack = None if self.ack is None else {"by": self.ack.by, "at": to_iso(self.ack.at), "comment": self.ack.comment}
        return {
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "group": dict(self.group),
            "state": self.state,
            "severity": self.severity,
            "labels": dict(self.labels),
            "episode": self.episode,
            "started_at": to_iso(self.started_at),
            "fired_at": to_iso(self.fired_at),
            "resolved_at": to_iso(self.resolved_at),
            "last_value": self.last_value,
            "evidence": dict(self.evidence),
            "ack": ack,
            "silenced_by": self.silenced_by,
            "inhibited_by": self.inhibited_by,
            "flapping": self.flapping,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        ack = data.get("ack")
        started_at = from_iso(data["started_at"])
        if started_at is None:
            raise ValueError(f"alert {data['fingerprint']}: no started_at in the snapshot")
        return cls(
            fingerprint=data["fingerprint"],
            rule_id=data["rule_id"],
            group=dict(data["group"]),
            state=data["state"],
            severity=data["severity"],
            labels=dict(data["labels"]),
            episode=int(data["episode"]),
            started_at=started_at,
            fired_at=from_iso(data.get("fired_at")),
            resolved_at=from_iso(data.get("resolved_at")),
            last_value=data.get("last_value"),
            evidence=dict(data.get("evidence") or {}),
            ack=None if ack is None else Ack(ack["by"], datetime.fromisoformat(ack["at"]), ack.get("comment", "")),
            silenced_by=data.get("silenced_by"),
            inhibited_by=data.get("inhibited_by"),
            flapping=bool(data.get("flapping", False)),
        )


@dataclass(frozen=True)
class Notice:
    """A change worth publishing; `key` lets a consumer drop redelivered copies."""

    kind: NoticeKind
    alert: Alert  # a snapshot: later changes to the live alert do not show here
    at: datetime
    key: str

    @property
    def silenced(self) -> bool:
        return self.alert.silenced_by is not None

    @property
    def inhibited_by(self) -> str | None:
        return self.alert.inhibited_by

    @property
    def suppressed(self) -> bool:
        """Notifiers skip suppressed notices; the monitoring center still shows them."""
        return self.silenced or self.inhibited_by is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "at": to_iso(self.at),
            "silenced": self.silenced,
            "inhibited_by": self.inhibited_by,
            "alert": self.alert.to_dict(),
        }


def snapshot_of(alert: Alert) -> Alert:
    # Mappings on an Alert are replaced, never mutated in place, so a shallow copy is a snapshot.
    return replace(alert)


@dataclass(frozen=True)
class RulePolicy:
    """How the lifecycle treats one rule's alerts; the rule file supplies the values."""

    rule_id: str
    severity: str
    for_s: float = 0.0
    cooldown_s: float = 0.0
    labels: Mapping[str, str] = field(default_factory=dict)
    flap_window_s: float | None = None
    max_flaps: int | None = None

    def __post_init__(self) -> None:
        if self.for_s < 0 or self.cooldown_s < 0:
            raise ValueError(f"rule {self.rule_id}: for_s and cooldown_s must be >= 0")
        if (self.flap_window_s is None) != (self.max_flaps is None):
            raise ValueError(f"rule {self.rule_id}: set both flap_window_s and max_flaps, or neither")
        if self.flap_window_s is not None and (self.flap_window_s <= 0 or not 2 <= (self.max_flaps or 0) <= MAX_FLAPS):
            raise ValueError(f"rule {self.rule_id}: flap_window_s must be > 0 and max_flaps in 2..{MAX_FLAPS}")

    @property
    def detects_flapping(self) -> bool:
        return self.flap_window_s is not None


@dataclass(frozen=True)
class Matcher:
    """One label condition; regex operators must match the whole value."""

    label: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op not in MATCH_OPS:
            raise ValueError(f"matcher on {self.label!r}: unknown operator {self.op!r}")
        if self.op in ("=~", "!~"):
            if len(self.value) > MAX_PATTERN_CHARS:
                raise ValueError(f"matcher on {self.label!r}: pattern longer than {MAX_PATTERN_CHARS} characters")
            try:
                compiled = re.compile(self.value)
            except re.error as exc:
                raise ValueError(f"matcher on {self.label!r}: invalid pattern: {exc}") from exc
            object.__setattr__(self, "_regex", compiled)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.label, "")  # a missing label reads as empty, as in Alertmanager
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        found = self._regex is not None and self._regex.fullmatch(actual) is not None  # compiled for =~ and !~
        return found if self.op == "=~" else not found


@dataclass(frozen=True)
class Silence:
    """Mute notifications for alerts whose labels match all matchers, from starts_at until ends_at."""

    id: str
    matchers: Sequence[Matcher]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "matchers", tuple(self.matchers))
        require_aware("Silence.starts_at", self.starts_at)
        require_aware("Silence.ends_at", self.ends_at)
        if self.ends_at <= self.starts_at:
            raise ValueError(f"silence {self.id}: ends_at must be after starts_at")
        # A silence whose matchers all accept an empty label would mute nearly everything.
        if not any(not m.matches({}) for m in self.matchers):
            raise ValueError(f"silence {self.id}: needs at least one matcher that does not match an empty value")

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [{"label": m.label, "op": m.op, "value": m.value} for m in self.matchers],
            "starts_at": to_iso(self.starts_at),
            "ends_at": to_iso(self.ends_at),
            "created_by": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        return cls(
            id=data["id"],
            matchers=[Matcher(m["label"], m["op"], m["value"]) for m in data["matchers"]],
            starts_at=datetime.fromisoformat(data["starts_at"]),
            ends_at=datetime.fromisoformat(data["ends_at"]),
            created_by=data["created_by"],
            comment=data.get("comment", ""),
        )


@dataclass(frozen=True)
class InhibitRule:
    """While a source alert fires, matching target alerts with the same `equal` labels are inhibited."""

    source_match: Mapping[str, str]
    target_match: Mapping[str, str]
    equal: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not self.source_match or not self.target_match:
            raise ValueError("inhibit rule: source_match and target_match must not be empty")
        object.__setattr__(self, "equal", tuple(self.equal))

    def is_source(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.source_match.items())

    def is_target(self, labels: Mapping[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in self.target_match.items())

    def same_scope(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        # Unlike Alertmanager, a label missing on both sides is not "equal": it would over-inhibit.
        return all(k in source and k in target and source[k] == target[k] for k in self.equal)


@dataclass
class Track:
    """What an AlertBook remembers about one fingerprint across observations and episodes."""

    rule_id: str
    group: dict[str, str]
    watermark: datetime | None = None  # latest applied observation
    breach_since: datetime | None = None
    clear_since: datetime | None = None
    episode: int = 0  # the last episode that fired
    flips: list[datetime] = field(default_factory=list)
    repeats: dict[str, int] = field(default_factory=dict)  # repeatable notices in this episode
    resolved: Alert | None = None  # the last resolved episode, for cooldown and get()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "group": self.group,
            "watermark": to_iso(self.watermark),
            "breach_since": to_iso(self.breach_since),
            "clear_since": to_iso(self.clear_since),
            "episode": self.episode,
            "flips": [f.isoformat() for f in self.flips],
            "repeats": dict(self.repeats),
            "resolved": None if self.resolved is None else self.resolved.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Track:
        resolved = data.get("resolved")
        return cls(
            rule_id=data["rule_id"],
            group=dict(data["group"]),
            watermark=from_iso(data.get("watermark")),
            breach_since=from_iso(data.get("breach_since")),
            clear_since=from_iso(data.get("clear_since")),
            episode=int(data.get("episode", 0)),
            flips=[datetime.fromisoformat(f) for f in data.get("flips", [])],
            repeats={k: int(v) for k, v in data.get("repeats", {}).items()},
            resolved=None if resolved is None else Alert.from_dict(resolved),
        )
