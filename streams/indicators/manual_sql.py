"""The SQL of a manual indicator: values uploaded by hand, one per entity and period, read back as daily values.

A manual value covers a whole period (a month, quarter, half-year or year of
local days). The indicator has the window `1d` only, and gives that value on
every local day (Asia/Shanghai) of the queried range that lies inside an
uploaded period, so the mean of the daily values over a period, which is how a
scorecard scores one, is the period's value. Of the uploads for one indicator,
entity and period the latest (by uploaded_at) wins; older ones are history. Should
two stored periods overlap (the declared period was changed, say from month to
quarter), a day takes the value of the latest upload covering it.

Values belong to a city (`city:<code>`) or a department (`dept:<id>`), never to
the province as a whole: a province-wide series would need a rule to combine
them that nobody has declared, so ask per entity or group by city or dept.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from streams.indicators import sql
from streams.indicators.defined import DefinedIndicator
from streams.indicators.query import IndicatorQuery, QueryError

TABLE = "manual_values"
#: The entity kinds a manual value can be uploaded for.
ENTITY_KINDS = ("city", "dept")
_GROUP_COLUMNS = {kind: "entity" for kind in ENTITY_KINDS}
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def _where(q: IndicatorQuery) -> str:
    """Which entities' values the query reads: those of its scope, or its scope's entities of the grouped kind."""
    kind, group = q.scope.kind, q.group
    if group is not None and group not in ENTITY_KINDS:
        raise QueryError(f"a manual indicator can be grouped by {', '.join(ENTITY_KINDS)}, not {group}")
    if kind not in ("province", *ENTITY_KINDS):
        raise QueryError(f"a manual indicator has values per city or dept, not per {kind}")
    if group is None:
        if kind == "province":
            raise QueryError(
                "a manual indicator has one value per city or dept: ask city:<code> or dept:<id>, or group"
            )
        return f"entity_kind = '{kind}' AND entity = {sql.VALUE}"
    if kind == "province":
        return f"entity_kind = '{group}'"
    if kind == "city" and group == "dept":
        # A city's departments: the city a department lies in is stored with its value.
        return f"entity_kind = 'dept' AND city_code = toUInt32({sql.VALUE})"
    if kind != group:
        raise QueryError(f"a {kind} scope cannot be grouped by {group}")
    return f"entity_kind = '{kind}' AND entity = {sql.VALUE}"


def manual_sql(defn: DefinedIndicator) -> Callable[[IndicatorQuery], str]:
    """The query of manual indicator `defn`: rows (day, value), or ((day, entity), value) when grouped."""
    if not _NAME.match(defn.name):
        # Written into the SQL as a literal; the model's own pattern already holds it to these characters.
        raise ValueError(f"indicator name {defn.name!r} is not a plain identifier")
    name = defn.name

    def query(q: IndicatorQuery) -> str:
        if q.window != "1d":
            raise QueryError(f"{name} is uploaded per period and read per day: use window 1d")
        first_day = f"toDate({sql.START}, 'Asia/Shanghai')"
        # The last local day the range touches: `end` itself is excluded.
        last_day = f"toDate({sql.END} - toIntervalMillisecond(1), 'Asia/Shanghai')"
        day_start = "toTimeZone(toDateTime(day, 'Asia/Shanghai'), 'UTC')"
        return f"""
    WITH latest AS (
        SELECT entity, period_start, period_end, argMax(value, (uploaded_at, upload_id)) AS value,
               max((uploaded_at, upload_id)) AS uploaded
        FROM {TABLE}
        WHERE indicator = '{name}' AND {_where(q)}
          AND period_end >= {first_day} AND period_start <= {last_day}
        GROUP BY entity_kind, entity, period_start, period_end
    )
    SELECT {sql.key(q, day_start, _GROUP_COLUMNS)} AS b, argMax(value, uploaded) AS value
    FROM latest
    ARRAY JOIN arrayMap(i -> period_start + i, range(toUInt32(period_end - period_start + 1))) AS day
    WHERE day BETWEEN {first_day} AND {last_day}
    GROUP BY b ORDER BY b"""

    return query
