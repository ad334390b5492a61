"""Score a period: fetch each leaf indicator per entity through the indicator layer, then rank.

Entities by level:

- `city`: the cities of the registry (21 in Guangdong), queried as `city:<code>`.
- `dept` with a city: that city's departments, the local counterparts of the
  provincial departments (`dept:D440700-07`), which is how a city ranks its
  bureaus. Hall events carry the department that handled them, and in a city
  hall that is the local counterpart.
- `dept` without a city: the provincial departments (`dept:D440000-07`), on
  what was recorded under their own id: items they handle directly, and the
  departments that have no city counterparts. Counterparts are not folded in;
  rank those per city.

A period is one or more local days (Asia/Shanghai). Each (entity, indicator)
is one `1d` query over the whole period, and the period's value is the mean of
the daily values on the days that have one (日均): a day without data neither
counts as zero nor pulls the mean down. Percentiles and ratios cannot be merged
exactly from daily values, and the daily mean keeps `target` bounds, which are
set per day, meaningful for any period length.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from streams.indicators.query import IndicatorQuery
from streams.indicators.scorecard import LEVEL_SCOPES, SCORE_WINDOW, EntityScore, Scorecard, Values, score
from streams.indicators.service import Reader, run
from streams.registry import Registry
from streams.workdays import SHANGHAI

#: A quarter, the usual assessment (考核) period; longer would make every query scan months of tickets.
MAX_PERIOD_DAYS = 92
#: Queries in flight at once; chDB runs them one at a time anyway, a ClickHouse server in parallel.
CONCURRENCY = 8


class ScoringError(ValueError):
    """The scoring request cannot be answered as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class Period:
    """Local days `first` to `last`, both included."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bounds(self) -> tuple[datetime, datetime]:
        """Local midnight of the first day and of the day after the last."""
        start = datetime.combine(self.first, time(), SHANGHAI)
        return start, start + timedelta(days=self.days)

    def describe(self) -> dict[str, Any]:
        start, end = self.bounds()
        return {
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "days": self.days,
            "start": start.isoformat(),
            "end": end.isoformat(),
        }


def _date(key: str, text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ScoringError(f"{key}={text!r} is not a date like 2026-11-20") from None


def parse_period(day: str | None, first: str | None, last: str | None, today: date) -> Period:
    """`day`, or `first` and `last` (inclusive); neither means yesterday, the last complete day."""
    if day and (first or last):
        raise ScoringError("give either day or from/to, not both")
    if bool(first) != bool(last):
        raise ScoringError("from and to go together")
    if first and last:
        period = Period(_date("from", first), _date("to", last))
    elif day:
        one = _date("day", day)
        period = Period(one, one)
    else:
        period = Period(today - timedelta(days=1), today - timedelta(days=1))
    if period.first > period.last:
        raise ScoringError("from must not be after to")
    if period.last > today:
        raise ScoringError(
            f"{period.last.isoformat()} is in the future (today is {today.isoformat()} in Asia/Shanghai)"
        )
    if period.days > MAX_PERIOD_DAYS:
        raise ScoringError(f"at most {MAX_PERIOD_DAYS} days per period, got {period.days}")
    return period


@dataclass(frozen=True, slots=True)
class Entity:
    entity_id: str
    name: str
    scope: str


def entities(registry: Registry, level: str, city: int | None = None) -> list[Entity]:
    """The entities ranked at `level`, in registry order (see the module docstring)."""
    if level == "city":
        if city is not None:
            raise ScoringError("city only narrows level dept; level city ranks every city")
        return [Entity(str(c.code), c.name, f"city:{c.code}") for c in registry.cities()]
    if level == "dept":
        if city is not None and registry.city(city) is None:
            raise ScoringError(f"city {city} is not in the registry")
        wanted = ("city", city) if city is not None else ("province", None)
        return [
            Entity(d.dept_id, d.name, f"dept:{d.dept_id}")
            for d in registry.departments()
            if (d.level, d.city_code) == wanted
        ]
    raise ScoringError(f"level {level!r}: use one of {', '.join(LEVEL_SCOPES)}")


def period_value(points: list[dict[str, Any]]) -> float | None:
    """The mean of the daily values that exist; None when no day has one."""
    daily = [p["value"] for p in points if p.get("value") is not None and math.isfinite(p["value"])]
    return math.fsum(daily) / len(daily) if daily else None


async def fetch_values(
    reader: Reader,
    ranked: list[Entity],
    indicators: list[str],
    period: Period,
    now: datetime,
    concurrency: int = CONCURRENCY,
) -> Values:
    """entity id → indicator → the period's value, one query per pair, at most `concurrency` at a time."""
    start, end = period.bounds()
    gate = asyncio.Semaphore(concurrency)

    async def one(entity: Entity, name: str) -> tuple[str, str, float | None]:
        q = IndicatorQuery.build(entity.scope, SCORE_WINDOW, start, end, now)
        async with gate:
            answer = await run(reader, name, q)
        return entity.entity_id, name, period_value(answer["points"])

    values: Values = {e.entity_id: {} for e in ranked}
    for entity_id, name, value in await asyncio.gather(*(one(e, n) for e in ranked for n in indicators)):
        values[entity_id][name] = value
    return values


@dataclass(frozen=True, slots=True)
class Ranking:
    scorecard: Scorecard
    level: str
    city: int | None
    period: Period
    entities: list[Entity]
    values: Values
    scores: list[EntityScore]

    def to_json(self) -> dict[str, Any]:
        by_id = {e.entity_id: e for e in self.entities}
        rows = []
        for s in self.scores:
            entity = by_id[s.entity_id]
            rows.append(
                {"name": entity.name, "scope": entity.scope, **s.model_dump(), "values": self.values[s.entity_id]}
            )
        return {
            "scorecard": self.scorecard.name,
            "title": self.scorecard.title,
            "level": self.level,
            "city": self.city,
            "period": self.period.describe(),
            "ranked": sum(1 for s in self.scores if s.rank is not None),
            "ranking": rows,
        }


async def rank(
    reader: Reader,
    registry: Registry,
    scorecard: Scorecard,
    level: str,
    period: Period,
    now: datetime,
    *,
    city: int | None = None,
    concurrency: int = CONCURRENCY,
) -> Ranking:
    """Score and rank every entity of `level` over `period` with `scorecard`."""
    if level not in LEVEL_SCOPES:
        raise ScoringError(f"level {level!r}: use one of {', '.join(LEVEL_SCOPES)}")
    if level not in scorecard.levels:
        raise ScoringError(f"scorecard {scorecard.name!r} ranks {', '.join(scorecard.levels)}, not {level!r}")
    ranked = entities(registry, level, city)
    values = await fetch_values(reader, ranked, scorecard.indicators(), period, now, concurrency)
    return Ranking(scorecard, level, city, period, ranked, values, score(scorecard, values))
