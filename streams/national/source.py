"""Read a period's upload set, and the history its case checks need, from the stored evaluations and case steps.

Rows are read with FINAL, so a batch the pipeline stored twice counts once: a duplicate the checks report is one
the city sent, under another event id. `reported_at` is when the record reached the province: the gateway's
receipt, or the worker's write for a record produced straight to Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from streams.national.checks import History
from streams.periods import Period


class Reader(Protocol):
    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]: ...


_IN_PERIOD = "occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}"
_REPORTED = "coalesce(received_at, ingested_at) AS reported_at"

_EVALUATION_COLUMNS = (
    "record_id",
    "city_code",
    "county_code",
    "dept_id",
    "case_no",
    "item_id",
    "level",
    "channel",
    "mode",
    "hall_id",
    "window_id",
    "staff_id",
    "device_id",
    "reason_tags",
    "comment",
    "evaluator_hash",
    "occurred_at",
    "reported_at",
)
EVALUATIONS_SQL = f"""
SELECT event_id, city_code, county_code, dept_id, case_no, item_id, level, channel, mode, hall_id, window_id,
       staff_id, device_id, reason_tags, comment, toString(evaluator_hash), occurred_at, {_REPORTED}
FROM evaluations FINAL
WHERE {_IN_PERIOD}
ORDER BY occurred_at, event_id
"""

_CASE_STEP_COLUMNS = (
    "record_id",
    "city_code",
    "county_code",
    "dept_id",
    "case_id",
    "case_no",
    "step",
    "to_dept_id",
    "direction",
    "deadline_working_days",
    "deadline_at",
    "outcome",
    "occurred_at",
    "reported_at",
)
CASE_STEPS_SQL = f"""
SELECT event_id, city_code, county_code, dept_id, case_id, case_no, type, to_dept_id, direction,
       deadline_working_days, deadline_at, outcome, occurred_at, {_REPORTED}
FROM case_events FINAL
WHERE {_IN_PERIOD}
ORDER BY occurred_at, event_id
"""

# The steps of the period's cases that lie outside it: a case opened last month has its case_created there.
EARLIER_STEPS_SQL = f"""
SELECT case_id, type, occurred_at
FROM case_events FINAL
WHERE case_id IN (SELECT case_id FROM case_events WHERE {_IN_PERIOD}) AND NOT ({_IN_PERIOD})
"""

# The evaluation of every handled case a period's case names, whenever it was given.
CASE_EVALUATIONS_SQL = f"""
SELECT case_no, argMax(level, occurred_at)
FROM evaluations FINAL
WHERE case_no IN (SELECT case_no FROM case_events WHERE {_IN_PERIOD})
GROUP BY case_no
"""

#: Columns stored as '' (or 0 for a county) when the node sent nothing; the upload says null instead.
_OPTIONAL = frozenset(
    {"county_code", "hall_id", "window_id", "staff_id", "device_id", "to_dept_id", "direction", "outcome"}
)


@dataclass(frozen=True, slots=True)
class PeriodSet:
    evaluations: list[dict[str, Any]]
    case_steps: list[dict[str, Any]]
    history: History


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _record(columns: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in zip(columns, row, strict=True):
        if name in _OPTIONAL and value in ("", 0, None):
            continue
        out[name] = list(value) if name == "reason_tags" else _utc(value)
    return out


async def read_period(reader: Reader, period: Period) -> PeriodSet:
    """The period's evaluations and case steps as upload dicts, with the history of the cases they touch."""
    params = {"start": period.start, "end": period.end}
    evaluations = [_record(_EVALUATION_COLUMNS, row) for row in await reader.query(EVALUATIONS_SQL, params)]
    steps = [_record(_CASE_STEP_COLUMNS, row) for row in await reader.query(CASE_STEPS_SQL, params)]
    earlier: dict[str, list[tuple[str, datetime]]] = {}
    for case_id, step, at in await reader.query(EARLIER_STEPS_SQL, params):
        earlier.setdefault(case_id, []).append((step, _utc(at)))
    levels = {case_no: level for case_no, level in await reader.query(CASE_EVALUATIONS_SQL, params)}
    return PeriodSet(evaluations, steps, History(levels, earlier))
