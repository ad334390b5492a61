"""Check the rows of an uploaded file, one by one, against the indicator definitions, the registry and the uploader.

A row is accepted as a `ManualValue` or refused with its line and the first
reason that applies: the indicator is unknown or not a manual one, the entity
kind is not one of the indicator's scopes, the entity is not in the registry, it
lies outside the uploader's city, the period cannot be read, is of another
length than the indicator's or has not started, the value is not a number or is
outside the indicator's [min, max], or the file gives the same indicator, entity
and period twice (every such row is refused, since which one was meant cannot be
told).

Pure: the registry and the definitions are passed in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date

from streams.auth.access import Principal
from streams.indicators.defined import DefinedIndicator
from streams.indicators.manual_sql import ENTITY_KINDS
from streams.indicators.model import Indicator
from streams.manual.model import DEFAULT_LIMITS, Cells, Limits, ManualValue, Refusal, RowReason
from streams.periods import Period, PeriodError, parse_period
from streams.registry import Registry

#: Entity kinds as written in a file → the kind.
KIND_ALIASES = {
    "city": "city",
    "城市": "city",
    "市": "city",
    "地市": "city",
    "dept": "dept",
    "department": "dept",
    "部门": "dept",
}


class RowRefused(ValueError):
    def __init__(self, reason: RowReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ManualCatalog:
    """The manual indicators by name, and the names of every other indicator (to tell 'not manual' from unknown)."""

    manual: Mapping[str, DefinedIndicator]
    others: Collection[str] = ()

    @classmethod
    def of(cls, indicators: Mapping[str, Indicator]) -> ManualCatalog:
        """From the catalogue as it is now (streams.indicators.catalog.INDICATORS, defined ones installed)."""
        manual = {
            name: i.defined for name, i in indicators.items() if i.defined is not None and i.defined.kind == "manual"
        }
        return cls(manual, frozenset(indicators) - set(manual))

    def get(self, name: str) -> DefinedIndicator:
        found = self.manual.get(name)
        if found is not None:
            return found
        if name in self.others:
            raise RowRefused("not_manual", f"indicator {name!r} is computed from the streams; only manual ones upload")
        known = ", ".join(sorted(self.manual)) or "none is defined"
        raise RowRefused("unknown_indicator", f"unknown indicator {name!r}; manual indicators: {known}")


@dataclass(frozen=True, slots=True)
class Checked:
    accepted: list[ManualValue]
    refused: list[Refusal]


def check_rows(
    rows: list[Cells],
    catalog: ManualCatalog,
    registry: Registry,
    uploader: Principal,
    today: date,
    limits: Limits = DEFAULT_LIMITS,
) -> Checked:
    """Every row accepted or refused with its line; duplicates within the file are all refused."""
    entities = _Entities(registry)
    accepted: list[ManualValue] = []
    refused: list[Refusal] = []
    for row in rows:
        try:
            accepted.append(_check(row, catalog, entities, uploader, today, limits))
        except RowRefused as exc:
            refused.append(Refusal(row.line, exc.reason, exc.detail))
    lines: dict[tuple[str, str, str, str], list[int]] = defaultdict(list)
    for value in accepted:
        lines[value.key].append(value.line)
    repeated = {key: found for key, found in lines.items() if len(found) > 1}
    for value in accepted:
        found = repeated.get(value.key)
        if found:
            others = ", ".join(str(n) for n in found if n != value.line)
            detail = f"{value.indicator} of {value.entity} for {value.period.label} is also on line {others}"
            refused.append(Refusal(value.line, "duplicate", detail))
    refused.sort(key=lambda r: r.line)
    return Checked([v for v in accepted if v.key not in repeated], refused)


class _Entities:
    """Cities by code or name and departments by id, with the city each lies in."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.city_names: dict[str, int] = {}
        for city in registry.cities():
            self.city_names[city.name] = city.code
            self.city_names[city.name.removesuffix("市")] = city.code

    def resolve(self, kind: str, text: str) -> tuple[str, int]:
        """(entity id as stored, its city code, 0 for a provincial department)."""
        if kind == "city":
            code = int(text) if text.isdigit() else self.city_names.get(text)
            if code is not None and self.registry.city(code) is not None:
                return str(code), code
            raise RowRefused("unknown_entity", f"city {text!r} is not in the registry (give its code, e.g. 440100)")
        dept = self.registry.department(text)
        if dept is None:
            raise RowRefused("unknown_entity", f"department {text!r} is not in the registry (ids look like D440700-07)")
        return dept.dept_id, dept.city_code or 0


def _kind(written: str, entity: str) -> str:
    if not written:
        # Left blank: a code of digits is a city, a department id starts with D.
        return "city" if entity.isdigit() else "dept" if entity[:1] in ("D", "d") else "city"
    kind = KIND_ALIASES.get(written.lower())
    if kind is None:
        raise RowRefused("bad_entity_kind", f"entity kind {written!r}: use {' or '.join(ENTITY_KINDS)} (城市 / 部门)")
    return kind


def _period(text: str, defn: DefinedIndicator, today: date) -> Period:
    try:
        period = parse_period(text)
    except PeriodError as exc:
        raise RowRefused("bad_period", str(exc)) from None
    if period.kind != defn.period:
        raise RowRefused(
            "period_mismatch", f"{defn.name} is reported per {defn.period}; {period.label} is a {period.kind}"
        )
    if period.first_day > today:
        raise RowRefused("future_period", f"{period.label} has not started (today is {today.isoformat()})")
    return period


def _number(text: str, defn: DefinedIndicator) -> float:
    try:
        # No thousands separators: in "95,5" the comma is a decimal comma as often as not.
        value = float(text) if text else math.nan
    except ValueError:
        raise RowRefused("not_a_number", f"value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise RowRefused("not_a_number", f"value {text!r} is not a number" if text else "the value is empty")
    low = -math.inf if defn.min is None else defn.min
    high = math.inf if defn.max is None else defn.max
    if not low <= value <= high:
        raise RowRefused("out_of_range", f"value {value:g} is outside {defn.name}'s range [{low:g}, {high:g}]")
    return value


def _check(
    row: Cells, catalog: ManualCatalog, entities: _Entities, uploader: Principal, today: date, limits: Limits
) -> ManualValue:
    cells = row.values
    for column, text in cells.items():
        if len(text) > limits.max_cell_chars:
            raise RowRefused("cell_too_long", f"{column} has {len(text)} characters; at most {limits.max_cell_chars}")
    for column in ("indicator", "entity", "period", "value"):
        if not cells.get(column):
            raise RowRefused("missing_field", f"{column} is empty")
    defn = catalog.get(cells["indicator"])
    kind = _kind(cells.get("entity_kind", ""), cells["entity"])
    if kind not in defn.scopes:
        raise RowRefused(
            "entity_kind_not_in_scopes", f"{defn.name} has values per {', '.join(defn.scopes)}, not per {kind}"
        )
    entity, city_code = entities.resolve(kind, cells["entity"])
    if uploader.city is not None and str(city_code) != uploader.city:
        raise RowRefused(
            "other_city", f"{entity} is not in city {uploader.city}, the only city {uploader.username} uploads for"
        )
    period = _period(cells["period"], defn, today)
    value = _number(cells["value"], defn)
    return ManualValue(defn.name, kind, entity, city_code, period, value, cells.get("note", ""), row.line)
