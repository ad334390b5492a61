"""What an indicator query asks for: a scope, a window size and a time range."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args

#: `line` is a provincial department's vertical line (垂直条线): the department and its city counterparts.
ScopeKind = Literal["province", "city", "county", "hall", "dept", "line", "source"]
#: A scope's kind as written → the kind it names, for every kind but the province (which takes no value).
_VALUED_KINDS: dict[str, ScopeKind] = {kind: kind for kind in get_args(ScopeKind) if kind != "province"}
WINDOWS: dict[str, timedelta] = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "1d": timedelta(days=1)}
#: Longest range one query may cover, per window size, so no request can ask for a year of 5-minute points.
MAX_POINTS = 2000
GROUP_KINDS = ("city", "county", "hall", "dept", "node", "camera", "source")
_SCOPE_VALUE = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")


class QueryError(ValueError):
    """The request cannot be answered as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    value: str = ""

    @classmethod
    def parse(cls, text: str) -> Scope:
        """`province`, `city:440100`, `county:440106`, `hall:H440106001`, `dept:D440100-01`, `line:D440000-01`,
        `source:node-440100`."""
        kind, _, value = text.partition(":")
        if kind == "province":
            return cls("province")
        known = _VALUED_KINDS.get(kind)
        if known is None or not _SCOPE_VALUE.match(value):
            raise QueryError(
                f"scope {text!r}: use province, city:<code>, county:<code>, hall:<id>, dept:<id>,"
                " line:<provincial dept id> or source:<id>"
            )
        if kind in ("city", "county") and not value.isdigit():
            raise QueryError(f"scope {text!r}: a {kind} is given by its GB/T 2260 code")
        return cls(known, value)

    def __str__(self) -> str:
        return self.kind if self.kind == "province" else f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class IndicatorQuery:
    scope: Scope
    window: str
    start: datetime  # inclusive, UTC
    end: datetime  # exclusive, UTC
    #: One series per entity of this kind (hall, city, source...) instead of one for the whole scope.
    group: str | None = None

    @classmethod
    def build(
        cls,
        scope: str,
        window: str,
        start: datetime | None,
        end: datetime | None,
        now: datetime,
        group: str | None = None,
    ) -> IndicatorQuery:
        if window not in WINDOWS:
            raise QueryError(f"window {window!r}: use one of {', '.join(WINDOWS)}")
        size = WINDOWS[window]
        end = end or now
        start = start or end - (timedelta(days=1) if window != "1d" else timedelta(days=7))
        if start.tzinfo is None or end.tzinfo is None:
            raise QueryError("from and to need a time zone (e.g. 2026-11-21T00:00:00+08:00)")
        if start >= end:
            raise QueryError("from must be before to")
        if (end - start) / size > MAX_POINTS:
            raise QueryError(f"at most {MAX_POINTS} windows of {window} per query")
        if group is not None and group not in GROUP_KINDS:
            raise QueryError(f"group {group!r}: use one of {', '.join(GROUP_KINDS)}")
        return cls(Scope.parse(scope), window, start.astimezone(UTC), end.astimezone(UTC), group)

    def params(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "scope_value": self.scope.value}


def bucket(column: str, window: str) -> str:
    """SQL for the start of the window holding `column`; days are local days in Asia/Shanghai."""
    if window == "5m":
        return f"toStartOfFiveMinutes({column})"
    if window == "1h":
        return f"toStartOfHour({column})"
    return f"toTimeZone(toDateTime(toStartOfDay({column}, 'Asia/Shanghai'), 'Asia/Shanghai'), 'UTC')"
