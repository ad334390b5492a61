"""The national 好差评 upload's quality (上报数据质检通过率), as an indicator.

Its facts are the verdicts the quality checks gave each record (`national_checks`, written by
`govpulse national export` and by every report that covers the record's period). A record checked more than
once counts with its latest verdict; a record never checked is not counted, so the rate covers what has been
checked, and a report checks its whole period before it reads the rate.
"""

from __future__ import annotations

from streams.indicators import sql
from streams.indicators.model import Indicator
from streams.indicators.query import IndicatorQuery

NATIONAL_SCOPES = ("province", "city", "dept", "line")
_COLUMNS = {"city": "city_code", "dept": "dept_id"}


def _pass_rate(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, _COLUMNS)
    # Distinct names inside the aggregation: ClickHouse would read an alias named like a column in its WHERE.
    return f"""
    SELECT {sql.key(q, sql.bucket("occurred_at", q.window), _COLUMNS)} AS b, avg(passed) AS value
    FROM (SELECT city_code, last_dept AS dept_id, last_at AS occurred_at, last_ok AS passed
          FROM (SELECT city_code, record_id, kind, argMax(dept_id, checked_at) AS last_dept,
                       argMax(occurred_at, checked_at) AS last_at, argMax(passed, checked_at) AS last_ok
                FROM national_checks
                WHERE {sql.in_range("occurred_at")}
                GROUP BY city_code, record_id, kind))
    WHERE 1{where}
    GROUP BY b ORDER BY b"""


NATIONAL_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "national_pass_rate",
        "好差评",
        "上报数据质检通过率",
        "ratio",
        "Of the evaluations and bad-review case steps checked for the national upload, the share that passed every "
        "quality check (required fields, code lists, duplicates, timeliness, case consistency), each record with "
        "its latest verdict; placed by occurred_at. Records not checked yet are not counted.",
        NATIONAL_SCOPES,
        ("1d",),
        _pass_rate,
    ),
)
