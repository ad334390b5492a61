"""SQL building blocks shared by the indicator definitions."""

from __future__ import annotations

from streams.indicators.query import IndicatorQuery, QueryError, bucket

START = "{start:DateTime64(3, 'UTC')}"
END = "{end:DateTime64(3, 'UTC')}"
VALUE = "{scope_value:String}"
#: A hall with no wait target in the registry gets the national 30-minute norm.
DEFAULT_WAIT_TARGET_S = 1800


TICKET_COLUMNS = {"city": "city_code", "county": "county_code", "hall": "hall_id", "dept": "dept_id"}
EVALUATION_COLUMNS = TICKET_COLUMNS
QUALITY_COLUMNS = {"city": "city_code", "source": "source"}


def key(q: IndicatorQuery, bucket_sql: str, columns: dict[str, str], prefix: str = "") -> str:
    """What a row is grouped by: the window start, or (window start, entity) when the query groups."""
    if q.group is None:
        return bucket_sql
    column = columns.get(q.group)
    if column is None:
        raise QueryError(f"this indicator cannot be grouped by {q.group}; it can by {', '.join(columns)}")
    return f"tuple({bucket_sql}, toString({prefix}{column}))"


def entity_of(q: IndicatorQuery, key_sql: str) -> str:
    """The entity part of a key built by `key` ('' when the query does not group)."""
    return f"tupleElement({key_sql}, 2)" if q.group else "''"


def entity_column(q: IndicatorQuery, columns: dict[str, str]) -> str:
    """The entity of a dimension row (for per-entity denominators), '' when the query does not group."""
    return f"toString({columns[q.group]})" if q.group else "''"


def in_range(column: str) -> str:
    return f"{column} >= {START} AND {column} < {END}"


def scope_filter(q: IndicatorQuery, columns: dict[str, str]) -> str:
    """` AND …` restricting rows to the scope, given which column holds each scope kind."""
    kind = q.scope.kind
    if kind == "province":
        return ""
    if kind == "line" and "dept" in columns:
        # The provincial department and its counterparts, as the registry last wrote them to org_depts.
        return (
            f" AND {columns['dept']} IN (SELECT dept_id FROM org_depts FINAL"
            f" WHERE dept_id = {VALUE} OR parent_id = {VALUE})"
        )
    column = columns.get(kind)
    if column is None:
        raise QueryError(f"this indicator has no {kind} scope; it has {', '.join(['province', *columns])}")
    if kind in ("city", "county"):
        return f" AND {column} = toUInt32({VALUE})"
    return f" AND {column} = {VALUE}"


def tickets(q: IndicatorQuery) -> str:
    """One merged row per ticket of the scope, over the local days the range touches (and the one before)."""
    # Prefilter on the primary key; county and department are checked after the merge.
    where = {
        "city": f" AND city_code = toUInt32({VALUE})",
        "county": f" AND city_code = intDiv(toUInt32({VALUE}), 100) * 100",
        "hall": f" AND hall_id = {VALUE}",
    }.get(q.scope.kind, "")
    having = scope_filter(q, {"city": "city_code", "county": "county_code", "hall": "hall_id", "dept": "dept_id"})
    return f"""
    SELECT city_code, hall_id, max(county_code) AS county_code, max(dept_id) AS dept_id,
           min(issued_at) AS issued_at, min(called_at) AS called_at, min(started_at) AS started_at,
           max(completed_at) AS completed_at, min(no_show_at) AS no_show_at, min(walkout_at) AS walkout_at,
           max(window_id) AS window_id
    FROM ticket_facts
    WHERE day BETWEEN toDate({START}, 'Asia/Shanghai') - 1 AND toDate({END}, 'Asia/Shanghai'){where}
    GROUP BY city_code, hall_id, day, ticket_no
    HAVING 1{having}"""


def over_tickets(q: IndicatorQuery, at: str, value: str, extra_where: str = "") -> str:
    """Aggregate `value` over tickets whose timestamp `at` falls in the range, by window."""
    return f"""
    WITH t AS ({tickets(q)})
    SELECT {key(q, bucket(at, q.window), TICKET_COLUMNS)} AS b, {value} AS value
    FROM t
    WHERE {at} IS NOT NULL AND {in_range(at)}{extra_where}
    GROUP BY b ORDER BY b"""


def seconds(later: str, earlier: str) -> str:
    return f"dateDiff('millisecond', {earlier}, {later}) / 1000"


def per_window(q: IndicatorQuery, table: str, columns: dict[str, str], value: str, group: str | None = None) -> str:
    """Aggregate `value` over a 5-minute state table, by window (and by `group`, e.g. reason, when given)."""
    where = scope_filter(q, columns)
    group_sql, group_by = (f", {group} AS grp", ", grp") if group else ("", "")
    return f"""
    SELECT {key(q, bucket("bucket", q.window), columns)} AS b{group_sql}, {value} AS value
    FROM {table}
    WHERE {in_range("bucket")}{where}
    GROUP BY b{group_by} ORDER BY b{group_by}"""


def evaluations(q: IndicatorQuery, value: str) -> str:
    return per_window(q, "evaluation_5m", EVALUATION_COLUMNS, value)


def ingest_quality(q: IndicatorQuery, value: str) -> str:
    return per_window(q, "ingest_quality_5m", QUALITY_COLUMNS, value)


def rejections(q: IndicatorQuery, value: str, group: str | None = None) -> str:
    return per_window(q, "rejections_5m", QUALITY_COLUMNS, value, group)


def window_ends(q: IndicatorQuery) -> tuple[str, int]:
    """A CTE body listing the end of every window in the range, and the window length in seconds."""
    step = {"5m": 300, "1h": 3600, "1d": 86400}[q.window]
    first = bucket(START, q.window)
    body = (
        f"SELECT arrayJoin(arrayMap(i -> {first} + toIntervalSecond({step} * (i + 1)),"
        f" range(toUInt32(ceil(dateDiff('second', {first}, {END}) / {step}))))) AS window_end"
    )
    return body, step


def same_local_day(at: str, window_end: str) -> str:
    """`at` falls on the local day the window ends in (the end itself belongs to the window before)."""
    return f"toDate({at}, 'Asia/Shanghai') = toDate({window_end} - toIntervalMillisecond(1), 'Asia/Shanghai')"


def still_waiting(t: str, moment: str) -> str:
    """Ticket `t` was waiting at `moment`: issued before it that local day, neither called nor walked out yet."""
    # left_at: the earlier of the first call and the walkout; NULL while the ticket still waits.
    left_at = f"least(ifNull({t}.called_at, {t}.walkout_at), ifNull({t}.walkout_at, {t}.called_at))"
    return (
        f"{t}.issued_at < {moment} AND {same_local_day(f'{t}.issued_at', moment)} AND ifNull({left_at} >= {moment}, 1)"
    )
