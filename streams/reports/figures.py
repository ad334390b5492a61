"""A period's figure of each report indicator, per entity, from one grouped `1d` query per indicator.

The indicator layer answers per local day; `aggregate` makes the period's figure from those days: the total, the
mean of the days that have a value (日均), or the last day's value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

from streams.indicators.model import Indicator
from streams.indicators.query import IndicatorQuery
from streams.indicators.service import Reader, run
from streams.periods import Period
from streams.reports.spec import ReportIndicator

#: indicator → entity ('' when the query does not group) → the period's figure.
Figures = dict[str, dict[str, float | None]]


def aggregate(how: str, points: Sequence[tuple[datetime, float | None]]) -> float | None:
    """The period's figure from (day, value) points; days without a value are left out of every aggregate."""
    values = [(day, v) for day, v in points if v is not None and math.isfinite(v)]
    if not values:
        return None
    if how == "sum":
        return math.fsum(v for _, v in values)
    if how == "mean":
        return math.fsum(v for _, v in values) / len(values)
    return max(values, key=lambda p: p[0])[1]


def supports(indicator: Indicator, scope_kind: str, group: str | None) -> bool:
    return scope_kind in indicator.scopes and (group is None or group in indicator.group_kinds)


async def figures(
    reader: Reader,
    catalog: Mapping[str, Indicator],
    wanted: Sequence[ReportIndicator],
    scope: str,
    period: Period,
    now: datetime,
    group: str | None = None,
) -> Figures:
    """Every wanted indicator the scope supports over `period`; one query each, grouped by `group` when given."""
    kind = scope.partition(":")[0]
    out: Figures = {}
    for entry in wanted:
        indicator = catalog[entry.indicator]
        if not supports(indicator, kind, group):
            continue
        q = IndicatorQuery.build(scope, "1d", period.start, period.end, now, group)
        answer = await run(reader, entry.indicator, q)
        per_entity: dict[str, list[tuple[datetime, float | None]]] = {}
        for point in answer["points"]:
            entity = str(point[group]) if group else ""
            per_entity.setdefault(entity, []).append((datetime.fromisoformat(point["bucket"]), point["value"]))
        out[entry.indicator] = {entity: aggregate(entry.aggregate, pts) for entity, pts in per_entity.items()}
    return out


def value(figs: Figures, indicator: str, entity: str = "") -> float | None:
    return figs.get(indicator, {}).get(entity)


def covered(figs: Figures, indicator: str) -> bool:
    """Whether the indicator was asked at all (False: the scope or level does not have it)."""
    return indicator in figs
