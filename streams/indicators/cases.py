"""Indicators of bad-review cases (差评工单): open, overdue, rectified on time.

Each step of a case carries the working days allowed for the next step;
the worker stores that as deadline_at (see streams/workdays.py). Cases are
looked at from their steps in `case_steps`; a case whose steps all lie more
than 92 days before the range is not seen.
"""

from __future__ import annotations

from streams.indicators import sql
from streams.indicators.model import ALL_WINDOWS, Indicator
from streams.indicators.query import IndicatorQuery

LOOKBACK_DAYS = 92
CASE_SCOPES = ("province", "city")
_CASE_COLUMNS = {"city": "city_code"}


def _steps(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, {"city": "city_code"})
    return (
        f"SELECT city_code, case_id, at, type, deadline_at FROM case_steps"
        f" WHERE at >= {sql.START} - INTERVAL {LOOKBACK_DAYS} DAY AND at < {sql.END}{where}"
    )


def _snapshot(q: IndicatorQuery, value: str) -> str:
    """Per window: each case as of the window's end (or as of `to`, for a window still running)."""
    ends, step = sql.window_ends(q)
    return f"""
    WITH ends AS ({ends}), steps AS ({_steps(q)})
    SELECT b, {value} AS value FROM (
        SELECT {sql.key(q, f"window_end - toIntervalSecond({step})", _CASE_COLUMNS, "steps.")} AS b,
               least(window_end, {sql.END}) AS snap, case_id,
               countIf(type = 'case_closed') AS closed, argMax(deadline_at, at) AS deadline
        FROM ends CROSS JOIN steps
        WHERE steps.at < least(window_end, {sql.END})
        GROUP BY b, snap, case_id)
    GROUP BY b ORDER BY b"""


def _on_time(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, {"city": "city_code"})
    bucket = sql.key(q, sql.bucket("r.first_at", q.window), _CASE_COLUMNS, "r.")
    return f"""
    SELECT b, countIf(rectified_at <= deadline) / count() AS value FROM (
        SELECT r.case_id, r.first_at AS rectified_at, {bucket} AS b,
               argMax(s.deadline_at, s.at) AS deadline
        FROM (SELECT case_id, city_code, min(at) AS first_at FROM case_steps
              WHERE type = 'case_rectified' AND {sql.in_range("at")}{where} GROUP BY case_id, city_code) AS r
        INNER JOIN ({_steps(q)}) AS s ON s.case_id = r.case_id
        WHERE s.at < r.first_at
        GROUP BY r.case_id, rectified_at, b)
    WHERE deadline IS NOT NULL
    GROUP BY b ORDER BY b"""


_C = "好差评"
CASE_INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "open_cases",
        _C,
        "未办结差评工单",
        "cases",
        "Cases with a step before the end of the window (or `to`, for the running window) and no case_closed "
        "before it.",
        CASE_SCOPES,
        ALL_WINDOWS,
        lambda q: _snapshot(q, "countIf(closed = 0)"),
    ),
    Indicator(
        "overdue_cases",
        _C,
        "超期差评工单",
        "cases",
        "Open cases whose latest step's deadline (its working days, on the Chinese calendar) ended before the end "
        "of the window with no further step.",
        CASE_SCOPES,
        ALL_WINDOWS,
        lambda q: _snapshot(q, "countIf(closed = 0 AND deadline IS NOT NULL AND deadline < snap)"),
    ),
    Indicator(
        "on_time_rectification_rate",
        _C,
        "按时整改率",
        "ratio",
        "Of cases first rectified (case_rectified) in the window, the share rectified by the deadline of the step "
        "before it; cases whose earlier step set no deadline are excluded.",
        CASE_SCOPES,
        ALL_WINDOWS,
        _on_time,
    ),
)
