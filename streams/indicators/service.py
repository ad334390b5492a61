"""Run an indicator query against ClickHouse and shape the answer."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any, Protocol

from streams.indicators.catalog import INDICATORS, Indicator
from streams.indicators.query import IndicatorQuery, QueryError


class Reader(Protocol):
    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...


def lookup(name: str, q: IndicatorQuery) -> Indicator:
    indicator = INDICATORS.get(name)
    if indicator is None:
        raise QueryError(f"unknown indicator {name!r}; GET /api/v1/indicators lists them")
    if q.scope.kind not in indicator.scopes:
        raise QueryError(f"{name} has no {q.scope.kind} scope; it has {', '.join(indicator.scopes)}")
    if q.window not in indicator.windows:
        raise QueryError(f"{name} has no {q.window} window; it has {', '.join(indicator.windows)}")
    if q.group is not None and q.group not in indicator.group_kinds:
        raise QueryError(f"{name} cannot be grouped by {q.group}; it can by {', '.join(indicator.group_kinds)}")
    return indicator


def _number(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) or math.isinf(number) else number


def _iso(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).isoformat()


async def run(reader: Reader, name: str, q: IndicatorQuery) -> dict[str, Any]:
    indicator = lookup(name, q)
    rows = await reader.query(indicator.sql(q), q.params())
    points = []
    for row in rows:
        if q.group:
            start, entity = row[0]
            if entity in ("", "0"):
                continue  # records without that entity, e.g. online evaluations grouped by hall
            point: dict[str, Any] = {"bucket": _iso(start), q.group: entity, "value": _number(row[-1])}
        else:
            point = {"bucket": _iso(row[0]), "value": _number(row[-1])}
        if indicator.grouped_by:
            point[indicator.grouped_by] = row[1]
        points.append(point)
    return {
        "indicator": name,
        "unit": indicator.unit,
        "scope": str(q.scope),
        "window": q.window,
        "group": q.group,
        "from": _iso(q.start),
        "to": _iso(q.end),
        "points": points,
    }
