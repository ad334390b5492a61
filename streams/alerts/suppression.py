"""What mutes an alert: silences (label matchers over a time range) and inhibit rules (a firing alert mutes others).

`Suppressions` holds both and says, for one alert at one moment, which
silence and which inhibiting alert mute it; the `AlertBook` turns changes of
that into "silenced"/"inhibited" notices. Inhibition needs a firing source
(pending does not inhibit); a silenced or inhibited source still inhibits;
an alert never inhibits itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from streams.alerts.model import Alert, InhibitRule, Silence

#: (silenced_by, inhibited_by) of an alert: a silence id and an inhibiting alert's fingerprint.
Suppression = tuple[str | None, str | None]
#: (fingerprint, labels) of a firing alert that some inhibit rule takes as its source.
Source = tuple[str, dict[str, str]]


def suppression(alert: Alert | None) -> Suppression:
    """What mutes the alert as it stands (nothing for no alert)."""
    return (None, None) if alert is None else (alert.silenced_by, alert.inhibited_by)


class Suppressions:
    """The silences, by id, and the inhibit rules of one alert book."""

    def __init__(self) -> None:
        self.silences: dict[str, Silence] = {}
        self.inhibitions: list[InhibitRule] = []

    def add_inhibition(self, rule: InhibitRule) -> None:
        self.inhibitions.append(rule)

    def set_inhibitions(self, rules: Iterable[InhibitRule]) -> None:
        self.inhibitions = list(rules)

    def drop_silences_ended(self, at: datetime) -> None:
        """Forget the silences that end at or before `at`."""
        for silence_id in [s.id for s in self.silences.values() if s.ends_at <= at]:
            del self.silences[silence_id]

    def sources(self, active: Mapping[str, Alert]) -> list[Source]:
        """The firing alerts among `active` (by fingerprint) that an inhibit rule takes as a source."""
        if not self.inhibitions:
            return []
        firing = ((fp, a.match_labels()) for fp, a in active.items() if a.state == "firing")
        return [(fp, labels) for fp, labels in firing if any(r.is_source(labels) for r in self.inhibitions)]

    def may_inhibit(self, alert: Alert) -> bool:
        """Whether the alert is a source of some inhibit rule, so that its changes can mute or unmute others."""
        labels = alert.match_labels()
        return any(rule.is_source(labels) for rule in self.inhibitions)

    def apply(self, alert: Alert, at: datetime, sources: list[Source]) -> None:
        """Set what mutes the alert at `at`: the first active silence matching it, the least inhibiting source."""
        labels = alert.match_labels()
        alert.silenced_by = next(
            (
                sid
                for sid in sorted(self.silences)
                if self.silences[sid].active_at(at) and self.silences[sid].matches(labels)
            ),
            None,
        )
        inhibitors = [
            fp
            for rule in self.inhibitions
            if rule.is_target(labels)
            for fp, source in sources
            if fp != alert.fingerprint and rule.is_source(source) and rule.same_scope(source, labels)
        ]
        alert.inhibited_by = min(inhibitors) if inhibitors else None
