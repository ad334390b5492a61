"""The alert state machine: which alerts exist, and which notices to publish.

`AlertBook` keeps one current alert per fingerprint (rule + group key) and is
driven only by explicit timestamps: rule evaluators call `observe`, timer
rounds call `resolve_missing`, the monitoring center calls `acknowledge` and
the silence methods, and a periodic `tick(at)` applies silences that start or
end and inhibit rules added since. Every call returns the notices to publish.

Choices worth knowing:

- Redelivery. Each fingerprint remembers the time of the latest observation
  it applied; an observation at or before it is a redelivery (or out of
  order) and changes nothing. Together with the per-episode notice keys this
  is what makes at-least-once delivery produce one alert, not two.
- Episodes. `episode` counts firings per fingerprint and never goes back, even
  across `prune`; a pending alert that never fires does not use a number.
- Flapping. With `flap_window_s`/`max_flaps` set, at most `max_flaps` state
  changes (firing, resolved) are published per window: when a resolve would
  exceed that, the alert stays firing with `flapping=True` and resolves only
  after it has been cleared without interruption for a whole flap window.
  Holding it firing (rather than muting it) keeps the problem on the duty
  officer's screen while stopping the notification storm.
- Silences mute, they do not hide: a silenced alert still changes state and
  its notices carry `silenced=True` (what mutes an alert is
  `streams.alerts.suppression`). "silenced"/"unsilenced"/"inhibited"/
  "uninhibited" notices are only emitted for firing alerts, and can repeat in
  one episode, so their key ends with a per-episode count
  (`fp:episode:silenced:2`); firing/resolved/acknowledged keys are
  `fp:episode:kind`, exactly once per episode.
- Snapshot holds alerts, per-fingerprint memory and silences, not rule
  policies or inhibit rules: those come from the rule files, registered
  before `restore`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from streams.alerts.model import (
    MAX_FLAPS,
    Ack,
    Alert,
    InhibitRule,
    Notice,
    NoticeKind,
    Observation,
    RulePolicy,
    Silence,
    Track,
    fingerprint,
    from_iso,
    require_aware,
    snapshot_of,
    to_iso,
)
from streams.alerts.suppression import Suppression, Suppressions, suppression

SNAPSHOT_VERSION = 1
_REPEATABLE: frozenset[str] = frozenset({"silenced", "unsilenced", "inhibited", "uninhibited"})

Change = Literal["fired", "resolved", "dropped"] | None


class UnknownRule(KeyError):
    """An observation or call names a rule that was never registered."""


class AlertBook:
    """Current alerts per fingerprint, and the notices each change produces."""

    def __init__(self) -> None:
        self._policies: dict[str, RulePolicy] = {}
        self._suppressions = Suppressions()
        self._tracks: dict[str, Track] = {}
        self._active: dict[str, Alert] = {}  # pending and firing
        self._retired_episodes: dict[str, int] = {}  # pruned fingerprints keep their episode count
        self._horizon: datetime | None = None  # observations before it are ignored (see prune)
        self.stale_observations = 0  # redelivered or out-of-order observations ignored

    # -- configuration -------------------------------------------------------

    def register(self, policy: RulePolicy) -> RulePolicy:
        """Add or replace a rule's policy; existing alerts keep their severity and labels."""
        self._policies[policy.rule_id] = policy
        return policy

    def register_rule(
        self,
        rule_id: str,
        *,
        severity: str,
        for_s: float = 0.0,
        cooldown_s: float = 0.0,
        labels: Mapping[str, str] | None = None,
        flap_window_s: float | None = None,
        max_flaps: int | None = None,
    ) -> RulePolicy:
        return self.register(
            RulePolicy(rule_id, severity, for_s, cooldown_s, dict(labels or {}), flap_window_s, max_flaps)
        )

    def add_inhibition(self, rule: InhibitRule) -> None:
        """Applies to new changes at once, and to alerts already firing at the next tick()."""
        self._suppressions.add_inhibition(rule)

    def set_inhibitions(self, rules: Iterable[InhibitRule]) -> None:
        """Replace all inhibit rules (hot reload); as add_inhibition, tick() re-evaluates."""
        self._suppressions.set_inhibitions(rules)

    # -- observations --------------------------------------------------------

    def observe(self, obs: Observation) -> list[Notice]:
        policy = self._policy(obs.rule_id)
        fp = fingerprint(obs.rule_id, obs.group)
        track = self._tracks.get(fp)
        stale_for_track = track is not None and track.watermark is not None and obs.at <= track.watermark
        if stale_for_track or (self._horizon is not None and obs.at < self._horizon):
            self.stale_observations += 1
            return []
        if track is None:
            track = Track(obs.rule_id, dict(obs.group), episode=self._retired_episodes.pop(fp, 0))
            self._tracks[fp] = track
        track.watermark = obs.at
        track.breach_since = (track.breach_since or obs.at) if obs.breached else None
        track.clear_since = (track.clear_since or obs.at) if obs.cleared else None

        alert = self._active.get(fp)
        was_firing = alert is not None and alert.state == "firing"
        before = suppression(alert)
        if alert is None:
            alert, change = self._start(policy, fp, track, obs)
        else:
            change = self._step(policy, track, alert, obs)
        if alert is None or change == "dropped":
            return []  # a pending alert that never fired leaves without a word

        self._suppressions.apply(alert, obs.at, self._suppressions.sources(self._active))
        notices: list[Notice] = []
        if change == "fired":
            notices.append(self._notice("firing", alert, obs.at))
        elif change == "resolved":
            notices.append(self._notice("resolved", alert, obs.at))
        elif was_firing:
            notices.extend(self._toggles(alert, before, obs.at))
        if change is not None and self._suppressions.may_inhibit(alert):
            notices.extend(self._refresh(obs.at, skip=fp))
        return notices

    def observe_all(self, observations: Iterable[Observation]) -> list[Notice]:
        return [notice for obs in observations for notice in self.observe(obs)]

    def resolve_missing(self, rule_id: str, seen_fingerprints: Collection[str], at: datetime) -> list[Notice]:
        """End a timer round: groups of the rule not seen in it count as cleared."""
        self._policy(rule_id)
        seen = set(seen_fingerprints)
        notices: list[Notice] = []
        for fp, track in list(self._tracks.items()):
            if track.rule_id != rule_id or fp in seen:
                continue
            if fp in self._active or track.breach_since is not None:
                gone = Observation(rule_id, track.group, at, breached=False, cleared=True, evidence={"missing": True})
                notices.extend(self.observe(gone))
        return notices

    def _start(self, policy: RulePolicy, fp: str, track: Track, obs: Observation) -> tuple[Alert | None, Change]:
        if not obs.breached or track.breach_since is None:
            return None, None
        if obs.at < self._cooldown_end(policy, track):
            return None, None  # the breach keeps counting in breach_since meanwhile
        alert = Alert(
            fingerprint=fp,
            rule_id=obs.rule_id,
            group=dict(obs.group),
            state="pending",
            severity=policy.severity,
            labels={**policy.labels, **obs.labels},
            episode=track.episode + 1,
            started_at=track.breach_since,
            last_value=obs.value,
            evidence=dict(obs.evidence),
        )
        self._active[fp] = alert
        if obs.at - alert.started_at >= timedelta(seconds=policy.for_s):
            self._fire(alert, track, obs)
            return alert, "fired"
        return alert, None

    def _step(self, policy: RulePolicy, track: Track, alert: Alert, obs: Observation) -> Change:
        if obs.value is not None:
            alert.last_value = obs.value
        if alert.state == "pending":
            if not obs.breached:
                del self._active[alert.fingerprint]
                return "dropped"
            if obs.at - alert.started_at >= timedelta(seconds=policy.for_s):
                self._fire(alert, track, obs)
                return "fired"
            return None
        if not obs.cleared or track.clear_since is None:
            return None  # still breached, or between the threshold and the clear level
        window = timedelta(seconds=policy.flap_window_s or 0)
        if alert.flapping:
            if obs.at - track.clear_since < window:
                return None
        elif policy.max_flaps is not None and self.flaps(alert.fingerprint, obs.at - window) >= policy.max_flaps:
            alert.flapping = True
            return None
        self._resolve(alert, track, obs.at)
        return "resolved"

    def _fire(self, alert: Alert, track: Track, obs: Observation) -> None:
        alert.state = "firing"
        alert.fired_at = obs.at
        alert.evidence = dict(obs.evidence)
        track.episode = alert.episode
        track.repeats = {}
        self._flip(track, obs.at)

    def _resolve(self, alert: Alert, track: Track, at: datetime) -> None:
        alert.state = "resolved"
        alert.resolved_at = at
        alert.flapping = False
        del self._active[alert.fingerprint]
        track.resolved = alert
        self._flip(track, at)

    @staticmethod
    def _cooldown_end(policy: RulePolicy, track: Track) -> datetime:
        last = track.resolved
        if last is None or last.resolved_at is None:
            return datetime.min.replace(tzinfo=UTC)
        return last.resolved_at + timedelta(seconds=policy.cooldown_s)

    @staticmethod
    def _flip(track: Track, at: datetime) -> None:
        track.flips.append(at)
        del track.flips[:-MAX_FLAPS]

    # -- duty officers -------------------------------------------------------

    def acknowledge(self, fingerprint: str, by: str, at: datetime, comment: str = "") -> list[Notice]:
        """Only a firing, unacknowledged alert can be acknowledged; the first ack stands."""
        require_aware("acknowledge at", at)
        alert = self._active.get(fingerprint)
        if alert is None or alert.state != "firing" or alert.ack is not None:
            return []
        alert.ack = Ack(by, at, comment)
        return [self._notice("acknowledged", alert, at)]

    def add_silence(self, silence: Silence, at: datetime) -> list[Notice]:
        """Add or replace (same id) a silence; firing alerts it covers now get a "silenced" notice."""
        self._suppressions.silences[silence.id] = silence
        return self._refresh(at)

    def remove_silence(self, silence_id: str, at: datetime) -> list[Notice]:
        if self._suppressions.silences.pop(silence_id, None) is None:
            return []
        return self._refresh(at)

    def silences(self) -> list[Silence]:
        return list(self._suppressions.silences.values())

    def tick(self, at: datetime) -> list[Notice]:
        """Apply the clock: silences that start or end, inhibit rules added since the last call."""
        self._suppressions.drop_silences_ended(at)
        return self._refresh(at)

    # -- reading -------------------------------------------------------------

    def active(self) -> list[Alert]:
        """Pending and firing alerts (copies)."""
        return [snapshot_of(alert) for alert in self._active.values()]

    def get(self, fingerprint: str) -> Alert | None:
        """The current alert, or the last resolved one, or None (copies)."""
        alert = self._active.get(fingerprint)
        if alert is None:
            track = self._tracks.get(fingerprint)
            alert = track.resolved if track is not None else None
        return None if alert is None else snapshot_of(alert)

    def flaps(self, fingerprint: str, since: datetime) -> int:
        """State changes (firing, resolved) of the fingerprint at or after `since`."""
        track = self._tracks.get(fingerprint)
        return 0 if track is None else sum(1 for flip in track.flips if flip >= since)

    # -- suppression ---------------------------------------------------------

    def _refresh(self, at: datetime, skip: str | None = None) -> list[Notice]:
        """Re-apply silences and inhibitions to every active alert; firing ones say what changed."""
        sources = self._suppressions.sources(self._active)
        notices: list[Notice] = []
        for fp, alert in self._active.items():
            if fp == skip:
                continue
            before = suppression(alert)
            self._suppressions.apply(alert, at, sources)
            if alert.state == "firing":
                notices.extend(self._toggles(alert, before, at))
        return notices

    def _toggles(self, alert: Alert, before: Suppression, at: datetime) -> list[Notice]:
        silenced_before, inhibited_before = before
        notices: list[Notice] = []
        if (silenced_before is None) != (alert.silenced_by is None):
            notices.append(self._notice("silenced" if alert.silenced_by else "unsilenced", alert, at))
        if (inhibited_before is None) != (alert.inhibited_by is None):
            notices.append(self._notice("inhibited" if alert.inhibited_by else "uninhibited", alert, at))
        return notices

    def _notice(self, kind: NoticeKind, alert: Alert, at: datetime) -> Notice:
        key = f"{alert.fingerprint}:{alert.episode}:{kind}"
        if kind in _REPEATABLE:
            repeats = self._tracks[alert.fingerprint].repeats
            repeats[kind] = repeats.get(kind, 0) + 1
            key = f"{key}:{repeats[kind]}"
        return Notice(kind, snapshot_of(alert), at, key)

    def _policy(self, rule_id: str) -> RulePolicy:
        try:
            return self._policies[rule_id]
        except KeyError:
            raise UnknownRule(rule_id) from None

    # -- persistence ---------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state: alerts, per-fingerprint memory and silences (not policies or inhibit rules)."""
        return {
            "version": SNAPSHOT_VERSION,
            "horizon": to_iso(self._horizon),
            "active": [alert.to_dict() for alert in self._active.values()],
            "tracks": {fp: track.to_dict() for fp, track in self._tracks.items()},
            "retired_episodes": dict(self._retired_episodes),
            "silences": [silence.to_dict() for silence in self._suppressions.silences.values()],
        }

    def restore(self, data: Mapping[str, Any]) -> None:
        """Replace the state with a snapshot's; emits nothing, so nothing fires twice."""
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"alert snapshot version {data.get('version')!r}, expected {SNAPSHOT_VERSION}")
        self._horizon = from_iso(data.get("horizon"))
        self._tracks = {fp: Track.from_dict(t) for fp, t in data["tracks"].items()}
        self._active = {a["fingerprint"]: Alert.from_dict(a) for a in data["active"]}
        self._retired_episodes = {fp: int(n) for fp, n in data.get("retired_episodes", {}).items()}
        self._suppressions.silences = {s["id"]: Silence.from_dict(s) for s in data.get("silences", [])}

    def prune(self, before: datetime) -> int:
        """Forget quiet fingerprints last observed before `before`; later, older observations are ignored."""
        removed = 0
        for fp, track in list(self._tracks.items()):
            if fp in self._active or track.breach_since is not None:
                continue
            if track.watermark is not None and track.watermark >= before:
                continue
            policy = self._policies.get(track.rule_id)
            if policy is not None and self._cooldown_end(policy, track) > before:
                continue
            if track.episode:
                self._retired_episodes[fp] = track.episode
            del self._tracks[fp]
            removed += 1
        self._suppressions.drop_silences_ended(before)
        self._horizon = before if self._horizon is None else max(self._horizon, before)
        return removed
