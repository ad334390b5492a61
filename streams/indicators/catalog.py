"""Every indicator: its name, family, unit, written definition and SQL.

Definitions say what is counted, what is excluded and which timestamp places
a record in a window. Windows are 5 minutes, 1 hour or a local day
(Asia/Shanghai); ratios are fractions from 0 to 1 and None where the
denominator is 0. Percentiles interpolate linearly between ranks (numpy's
default, "inclusive").
"""

from __future__ import annotations

from streams.indicators import sql
from streams.indicators.cases import CASE_INDICATORS
from streams.indicators.model import ALL_WINDOWS, QUEUE_SCOPES, Indicator
from streams.indicators.national import NATIONAL_INDICATORS
from streams.indicators.query import IndicatorQuery
from streams.indicators.windows_video import WINDOW_AND_VIDEO

BAD = "('dissatisfied', 'very_dissatisfied')"
SATISFIED = "('very_satisfied', 'satisfied', 'basic')"
#: More evaluations than this from one device within one clock hour are suspicious (刷评).
SUSPICIOUS_DEVICE_PER_HOUR = 20
#: An event stored more than this long after it happened is late.
LATE_AFTER_S = 300

QUALITY_SCOPES = ("province", "city", "source")


_WAIT = sql.seconds("called_at", "issued_at")
_SERVICE = sql.seconds("completed_at", "started_at")


def _service_level(q: IndicatorQuery) -> str:
    return f"""
    WITH t AS ({sql.tickets(q)}),
         targets AS (SELECT hall_id, argMax(wait_target_s, updated_at) AS target_s FROM org_halls GROUP BY hall_id)
    SELECT {sql.key(q, sql.bucket("t.called_at", q.window), sql.TICKET_COLUMNS, "t.")} AS b,
           countIf({sql.seconds("t.called_at", "t.issued_at")}
                   <= if(targets.target_s = 0, {sql.DEFAULT_WAIT_TARGET_S}, targets.target_s)) / count() AS value
    FROM t LEFT JOIN targets ON t.hall_id = targets.hall_id
    WHERE t.called_at IS NOT NULL AND t.issued_at IS NOT NULL AND {sql.in_range("t.called_at")}
    GROUP BY b ORDER BY b"""


def _waiting(q: IndicatorQuery) -> str:
    ends, step = sql.window_ends(q)
    return f"""
    WITH t AS ({sql.tickets(q)}), ends AS ({ends})
    SELECT {sql.key(q, f"window_end - toIntervalSecond({step})", sql.TICKET_COLUMNS, "t.")} AS b,
           countIf({sql.still_waiting("t", "window_end")}) AS value
    FROM ends CROSS JOIN t
    WHERE t.issued_at IS NOT NULL
    GROUP BY b ORDER BY b"""


def _coverage(q: IndicatorQuery) -> str:
    return f"""
    SELECT e.b AS b, if(s.value = 0, NULL, e.value / s.value) AS value
    FROM ({sql.evaluations(q, "sum(evaluations)")}) AS e
    LEFT JOIN ({sql.over_tickets(q, "completed_at", "count()")}) AS s ON e.b = s.b
    ORDER BY b"""


_DEVICE_COLUMNS = {"city": "city_code", "county": "county_code", "hall": "hall_id"}


def _suspicious(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, _DEVICE_COLUMNS)
    return f"""
    SELECT d.b AS b, if(e.value = 0, NULL, d.value / e.value) AS value
    FROM (SELECT {sql.key(q, sql.bucket("bucket", q.window), _DEVICE_COLUMNS)} AS b,
                 sumIf(evaluations, evaluations > {SUSPICIOUS_DEVICE_PER_HOUR}) AS value
          FROM (SELECT bucket, device_id, city_code, county_code, hall_id, sum(evaluations) AS evaluations
                FROM evaluation_device_1h
                WHERE {sql.in_range("bucket")}{where} GROUP BY bucket, device_id, city_code, county_code, hall_id)
          GROUP BY b) AS d
    JOIN ({sql.evaluations(q, "sum(evaluations)")}) AS e ON d.b = e.b
    ORDER BY b"""


def _sequence_gaps(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, sql.QUALITY_COLUMNS)
    return f"""
    SELECT b, sum(gaps) AS value FROM (
        SELECT {sql.key(q, sql.bucket("bucket", q.window), sql.QUALITY_COLUMNS)} AS b, source,
               toInt64(max(max_seq)) - toInt64(min(min_seq)) + 1 - toInt64(uniqExactMerge(seqs)) AS gaps
        FROM ingest_quality_5m
        WHERE {sql.in_range("bucket")}{where}
        GROUP BY b, source)
    GROUP BY b ORDER BY b"""


def _rejected_share(q: IndicatorQuery) -> str:
    accepted = sql.ingest_quality(q, "sum(events)")
    rejected = sql.rejections(q, "sum(records)", group="reason")
    return f"""
    SELECT r.b AS b, r.grp AS grp, r.value / (ifNull(a.value, 0) + tot.value) AS value
    FROM ({rejected}) AS r
    LEFT JOIN ({accepted}) AS a ON r.b = a.b
    JOIN (SELECT b, sum(value) AS value FROM ({rejected}) GROUP BY b) AS tot ON r.b = tot.b
    ORDER BY b, grp"""


_Q = "queue"
_E = "好差评"
_D = "data_quality"
INDICATORS: dict[str, Indicator] = {
    i.name: i
    for i in (
        Indicator(
            "tickets_issued",
            _Q,
            "取号量",
            "tickets",
            "Tickets issued; placed by issued_at.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(q, "issued_at", "count()"),
        ),
        Indicator(
            "tickets_served",
            _Q,
            "办结量",
            "tickets",
            "Tickets whose service was completed; placed by the last service_completed.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(q, "completed_at", "count()"),
        ),
        Indicator(
            "queue_waiting",
            _Q,
            "等候人数",
            "tickets",
            "Tickets waiting at the end of each window: issued that local day before the end, neither called nor "
            "walked out by then. Tickets of earlier days are not carried over.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            _waiting,
        ),
        Indicator(
            "wait_p50_s",
            _Q,
            "等候时长中位数",
            "s",
            "Median wait, from ticket_issued to the first ticket_called, of tickets first called in the window; "
            "tickets never called (waiting, walked out) are excluded.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(
                q, "called_at", f"quantileExactInclusive(0.5)({_WAIT})", " AND issued_at IS NOT NULL"
            ),
        ),
        Indicator(
            "wait_p90_s",
            _Q,
            "等候时长P90",
            "s",
            "90th percentile of the same waits as wait_p50_s.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(
                q, "called_at", f"quantileExactInclusive(0.9)({_WAIT})", " AND issued_at IS NOT NULL"
            ),
        ),
        Indicator(
            "wait_max_s",
            _Q,
            "最长等候时长",
            "s",
            "Longest of the same waits as wait_p50_s.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(q, "called_at", f"max({_WAIT})", " AND issued_at IS NOT NULL"),
        ),
        Indicator(
            "service_level",
            _Q,
            "等候达标率",
            "ratio",
            "Share of tickets first called in the window whose wait was within their hall's target "
            "(org_halls.wait_target_s, 30 min by default). Walkouts and tickets still waiting are excluded; "
            "walkout_rate reports them.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            _service_level,
        ),
        Indicator(
            "service_p50_s",
            _Q,
            "办理时长中位数",
            "s",
            "Median service time, from service_started to service_completed, of tickets completed in the window.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(
                q, "completed_at", f"quantileExactInclusive(0.5)({_SERVICE})", " AND started_at IS NOT NULL"
            ),
        ),
        Indicator(
            "service_p90_s",
            _Q,
            "办理时长P90",
            "s",
            "90th percentile of the same service times as service_p50_s.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(
                q, "completed_at", f"quantileExactInclusive(0.9)({_SERVICE})", " AND started_at IS NOT NULL"
            ),
        ),
        Indicator(
            "no_show_rate",
            _Q,
            "过号率",
            "ratio",
            "Of tickets first called in the window, the share recorded as ticket_no_show.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(q, "called_at", "countIf(no_show_at IS NOT NULL) / count()"),
        ),
        Indicator(
            "walkout_rate",
            _Q,
            "弃号率",
            "ratio",
            "Of tickets issued in the window, the share that left before being called (ticket_walkout).",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.over_tickets(
                q, "issued_at", "countIf(walkout_at IS NOT NULL AND called_at IS NULL) / count()"
            ),
        ),
        Indicator(
            "evaluations",
            _E,
            "评价量",
            "evaluations",
            "Evaluations given in the window (occurred_at), active and default.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.evaluations(q, "sum(evaluations)"),
        ),
        Indicator(
            "satisfaction_rate",
            _E,
            "满意率",
            "ratio",
            "Share of evaluations rated 非常满意, 满意 or 基本满意.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.evaluations(q, f"sumIf(evaluations, level IN {SATISFIED}) / sum(evaluations)"),
        ),
        Indicator(
            "bad_review_rate",
            _E,
            "差评率",
            "ratio",
            "Share of evaluations rated 不满意 or 非常不满意 (差评).",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.evaluations(q, f"sumIf(evaluations, level IN {BAD}) / sum(evaluations)"),
        ),
        Indicator(
            "active_evaluation_rate",
            _E,
            "主动评价率",
            "ratio",
            "Share of evaluations the citizen gave (mode active), as opposed to defaults generated after the deadline.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.evaluations(q, "sumIf(evaluations, mode = 'active') / sum(evaluations)"),
        ),
        Indicator(
            "evaluation_coverage",
            _E,
            "评价覆盖率",
            "ratio",
            "Evaluations in the window divided by tickets served in the window, same scope. Online evaluations have "
            "no hall, so at hall and county scope only hall evaluations count. Windows without evaluations are "
            "omitted.",
            QUEUE_SCOPES,
            ALL_WINDOWS,
            _coverage,
        ),
        Indicator(
            "suspicious_evaluation_share",
            _E,
            "疑似刷评占比",
            "ratio",
            f"Share of evaluations given by a device that gave more than {SUSPICIOUS_DEVICE_PER_HOUR} within one "
            "clock hour. Hourly by nature, so only 1h and 1d windows.",
            ("province", "city", "county", "hall"),
            ("1h", "1d"),
            _suspicious,
        ),
        Indicator(
            "ingest_lag_p50_s",
            _D,
            "入库延迟中位数",
            "s",
            "Median of ingested_at - occurred_at of events stored in the window (placed by ingested_at); "
            "t-digest estimate.",
            QUALITY_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.ingest_quality(q, "quantilesTDigestMerge(0.5, 0.95)(lag_s)[1]"),
        ),
        Indicator(
            "ingest_lag_p95_s",
            _D,
            "入库延迟P95",
            "s",
            "95th percentile of the same lags as ingest_lag_p50_s.",
            QUALITY_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.ingest_quality(q, "quantilesTDigestMerge(0.5, 0.95)(lag_s)[2]"),
        ),
        Indicator(
            "late_events",
            _D,
            "迟到事件数",
            "events",
            f"Events stored more than {LATE_AFTER_S} s after they happened; placed by ingested_at.",
            QUALITY_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.ingest_quality(q, "sum(late_events)"),
        ),
        Indicator(
            "sequence_gaps",
            _D,
            "序号缺口",
            "events",
            "Per source, sequence numbers missing between the lowest and highest seq stored in the window "
            "(max - min + 1 - distinct seqs), summed over sources. A number sent in another window counts as "
            "missing here.",
            QUALITY_SCOPES,
            ALL_WINDOWS,
            _sequence_gaps,
        ),
        Indicator(
            "duplicates",
            _D,
            "重复事件数",
            "events",
            "Records rejected as duplicate (an event_id already accepted); placed by rejected_at.",
            QUALITY_SCOPES,
            ALL_WINDOWS,
            lambda q: sql.rejections(q, "sumIf(records, reason = 'duplicate')"),
        ),
        Indicator(
            "rejected_share",
            _D,
            "拒收率",
            "ratio",
            "Per rejection reason, rejected records divided by all records (stored + rejected) in the window; "
            "stored placed by ingested_at, rejected by rejected_at.",
            QUALITY_SCOPES,
            ALL_WINDOWS,
            _rejected_share,
            grouped_by="reason",
        ),
        *CASE_INDICATORS,
        *WINDOW_AND_VIDEO,
        *NATIONAL_INDICATORS,
    )
}
