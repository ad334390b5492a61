"""An indicator's SQL as a Grafana panel query (ClickHouse data source), so ops chart one without writing SQL.

The query's parameters become what Grafana fills in: the range is the
dashboard's (`$__fromTime`, `$__toTime`), and the scope value is either
written in (`city:440100`) or the dashboard variable named like the scope
kind (`city` alone: `${city}`). The answer has a `time` column, the entity
column when grouped, and the value named after the indicator.
"""

from __future__ import annotations

from datetime import UTC, datetime

from streams.indicators import sql
from streams.indicators.model import Indicator
from streams.indicators.query import IndicatorQuery, QueryError

FROM_TIME = "$__fromTime"
TO_TIME = "$__toTime"


def panel_query(scope: str, window: str, group: str | None) -> tuple[IndicatorQuery, str]:
    """The query a panel stands for, and the SQL text its scope value becomes."""
    kind, _, value = scope.partition(":")
    now = datetime.now(UTC)
    if kind == "province" or value:
        q = IndicatorQuery.build(scope, window, None, now, now, group)
        return q, f"'{q.scope.value}'"  # Scope.parse allows letters, digits and . _ : - only: safe to quote
    # The value only fills the {scope_value} parameter, which the variable replaces; 0 passes every kind's check.
    return IndicatorQuery.build(f"{kind}:0", window, None, now, now, group), f"'${{{kind}}}'"


def panel_sql(indicator: Indicator, q: IndicatorQuery, scope_value: str) -> str:
    """Grafana-ready SQL for `indicator` over the query's scope, window and grouping."""
    if indicator.grouped_by:
        raise QueryError(f"{indicator.name} has one series per {indicator.grouped_by}; chart it from its own panel")
    body = indicator.sql(q).replace(sql.START, FROM_TIME).replace(sql.END, TO_TIME).replace(sql.VALUE, scope_value)
    if q.group is None:
        return f"SELECT b AS time, value AS {indicator.name}\nFROM ({body})\nORDER BY time"
    return (
        f"SELECT tupleElement(b, 1) AS time, tupleElement(b, 2) AS {q.group}, value AS {indicator.name}\n"
        f"FROM ({body})\nWHERE tupleElement(b, 2) NOT IN ('', '0')\nORDER BY time, {q.group}"
    )
