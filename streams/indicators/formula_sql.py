"""The SQL of a formula indicator: its operands' own SQL, side by side per bucket, combined by the expression.

Each operand's query (`Indicator.sql` with the same IndicatorQuery) is a
subquery giving one `value` per `b`, the window start or, when the query
groups, the (window start, entity) tuple. Rather than a chain of FULL OUTER
JOINs (whose unmatched sides are default values, not NULL, unless
join_use_nulls is set, and which would need every key coalesced), the
operands are stacked with UNION ALL, each in its own column, and grouped by
`b`: one row per bucket any operand has, NULL in the columns of operands
without a row there.

A missing operand row means: for a count (tickets, evaluations, events,
cases, windows, probes), nothing was counted, so 0; for anything else (a
ratio, a duration, a percentile, uploaded points), no value, so NULL, and
the result is NULL for that bucket. A division by 0 gives NULL, or 0 when
the indicator says `empty_denominator: zero`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from streams.indicators.formula import COUNT_UNITS, Expr, names, to_sql
from streams.indicators.model import Indicator
from streams.indicators.query import IndicatorQuery


def _bucket(q: IndicatorQuery, b: str) -> str:
    """`b` with one type whatever the operand built it from (DateTime or DateTime64, numeric or string entity)."""
    if q.group is None:
        return f"toDateTime({b}, 'UTC')"
    return f"tuple(toDateTime(tupleElement({b}, 1), 'UTC'), toString(tupleElement({b}, 2)))"


def formula_sql(
    expr: Expr, operands: Mapping[str, Indicator], zero_when_empty: bool
) -> Callable[[IndicatorQuery], str]:
    """What computes `expr` in ClickHouse for a query, from the operands' SQL for that same query."""
    order = names(expr)
    column = {name: f"v{i}" for i, name in enumerate(order)}

    def value_of(name: str) -> str:
        if operands[name].unit in COUNT_UNITS:
            return f"ifNull({column[name]}, 0)"
        return column[name]

    def sql(q: IndicatorQuery) -> str:
        stacked = []
        for i, name in enumerate(order):
            cells = ", ".join(
                f"{'toNullable(toFloat64(o.value))' if j == i else 'CAST(NULL AS Nullable(Float64))'} AS c{j}"
                for j in range(len(order))
            )
            stacked.append(f"SELECT {_bucket(q, 'o.b')} AS k, {cells} FROM ({operands[name].sql(q)}) AS o")
        per_bucket = ", ".join(f"max(c{j}) AS v{j}" for j in range(len(order)))
        union = "\n        UNION ALL\n        ".join(stacked)
        return f"""
    SELECT k AS b, {to_sql(expr, value_of, zero_when_empty)} AS value
    FROM (SELECT k, {per_bucket} FROM (
        {union}) GROUP BY k)
    ORDER BY b"""

    return sql
