"""What else a period's report lists: its top alerts and why national-upload records failed their checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from streams.indicators.service import Reader
from streams.periods import Period

_RANGE = "at >= {start:DateTime64(3, 'UTC')} AND at < {end:DateTime64(3, 'UTC')}"
_SEVERITY_ORDER = "multiIf(sev = 'critical', 0, sev = 'warning', 1, 2)"

TOP_ALERTS_SQL = f"""
SELECT rule_id, any(severity) AS sev, city_code, group_keys, count() AS firings, min(at), max(at)
FROM alert_notices FINAL
WHERE kind = 'firing' AND {_RANGE}__CITY__
GROUP BY rule_id, city_code, group_keys
ORDER BY {_SEVERITY_ORDER}, firings DESC, rule_id, city_code
LIMIT {{limit:UInt32}}
"""

FAILURE_REASONS_SQL = """
SELECT reason, count() AS records FROM (
    SELECT city_code, record_id, kind, argMax(reasons, checked_at) AS reasons, argMax(passed, checked_at) AS ok
    FROM national_checks
    WHERE occurred_at >= {start:DateTime64(3, 'UTC')} AND occurred_at < {end:DateTime64(3, 'UTC')}__CITY__
    GROUP BY city_code, record_id, kind)
ARRAY JOIN reasons AS reason
WHERE ok = 0
GROUP BY reason ORDER BY records DESC, reason
"""


@dataclass(frozen=True, slots=True)
class TopAlert:
    rule_id: str
    severity: str
    city_code: int
    entity: str
    firings: int
    first_at: datetime
    last_at: datetime


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _entity(group_keys: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(group_keys.items())) or "全省"


async def top_alerts(reader: Reader, period: Period, limit: int, city: int | None = None) -> list[TopAlert]:
    """The period's alerts that fired, most severe and most frequent first, one row per rule and entity."""
    params: dict[str, object] = {"start": period.start, "end": period.end, "limit": limit}
    city_filter = ""
    if city is not None:
        city_filter = " AND city_code = {city:UInt32}"
        params["city"] = city
    rows = await reader.query(TOP_ALERTS_SQL.replace("__CITY__", city_filter), params)
    return [
        TopAlert(str(rule), str(sev), int(code), _entity(keys), int(n), _utc(first), _utc(last))
        for rule, sev, code, keys, n, first, last in rows
    ]


async def failure_reasons(reader: Reader, period: Period, city: int | None = None) -> list[tuple[str, int]]:
    """(reason code, failing records) of the national upload's checks over the period, most frequent first."""
    params: dict[str, object] = {"start": period.start, "end": period.end}
    city_filter = ""
    if city is not None:
        city_filter = " AND city_code = {city:UInt32}"
        params["city"] = city
    rows = await reader.query(FAILURE_REASONS_SQL.replace("__CITY__", city_filter), params)
    return [(str(reason), int(n)) for reason, n in rows]
