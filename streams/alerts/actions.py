"""What a duty officer may ask of the alert board, checked before anything changes.

The limits on comments, silences and their matchers, and the reason an
action does not apply to an alert as it is now. The monitoring center's desk
(connectors/center/desk.py) applies an action that passed these checks and
records it; the API turns the exceptions into 400, 404 and 409.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from streams.alerts.model import Alert, Matcher

MAX_COMMENT = 1000
MAX_MATCHERS = 10
MAX_SILENCE_S = 30 * 24 * 3600
MIN_SILENCE_S = 60


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """The action does not apply to the alert as it is now (resolved, already acknowledged)."""


class BadRequest(ValueError):
    pass


def comment(text: object) -> str:
    """A comment as given, trimmed; none is an empty comment."""
    if text is None:
        return ""
    if not isinstance(text, str) or len(text) > MAX_COMMENT:
        raise BadRequest(f"comment is a string of at most {MAX_COMMENT} characters")
    return text.strip()


def parse_matchers(items: object) -> list[Matcher]:
    """A silence's matchers, at least one of which narrows it: a silence of everything is refused."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_MATCHERS:
        raise BadRequest(f"matchers is a list of 1 to {MAX_MATCHERS} {{label, op, value}} objects")
    out = []
    for item in items:
        if not isinstance(item, Mapping) or not all(isinstance(item.get(k), str) for k in ("label", "op", "value")):
            raise BadRequest("each matcher is {label, op, value} with string values")
        label, value = item["label"], item["value"]
        if not 0 < len(label) <= 64 or len(value) > 256:
            raise BadRequest("a matcher label has 1-64 characters and a value at most 256")
        try:
            out.append(Matcher(label, item["op"], value))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
    if all(m.op in ("!=", "!~") for m in out) or all(m.op == "=~" and m.value in (".*", ".+") for m in out):
        raise BadRequest("a silence needs at least one matcher that narrows it (= or a specific pattern)")
    return out


def silence_span(duration: object, now: datetime) -> tuple[datetime, datetime]:
    """(starts, ends) of a silence asked for `duration` seconds from now."""
    if not isinstance(duration, int) or isinstance(duration, bool) or not MIN_SILENCE_S <= duration <= MAX_SILENCE_S:
        raise BadRequest(f"duration_s is a whole number of seconds from {MIN_SILENCE_S} to {MAX_SILENCE_S}")
    return now, now + timedelta(seconds=duration)


def not_acknowledgeable(current: Alert | None) -> Conflict:
    """Why an acknowledgement changed nothing: the alert as it is now is not firing and unacknowledged."""
    if current is None or current.state == "resolved":
        state = "resolved"
    elif current.ack:
        state = "already acknowledged"
    else:
        state = current.state
    return Conflict(f"only a firing, unacknowledged alert can be acknowledged; this one is {state}")


def city_of(matchers: Iterable[Matcher]) -> str | None:
    """The city a silence is for, when one of its matchers names exactly one."""
    return next((m.value for m in matchers if m.label == "city" and m.op == "="), None)
