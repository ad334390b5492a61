"""Indicators of service windows and of the video network.

Snapshots ("at the end of each window") look at the last state known before
the window's end on the same local day for windows, and at the last probe or
heartbeat for the video network.
"""

from __future__ import annotations

from streams.indicators import sql
from streams.indicators.model import ALL_WINDOWS, Indicator
from streams.indicators.query import IndicatorQuery

#: GB/T 28181 counts a node offline after 3 missed keepalives.
MISSED_BEATS_OFFLINE = 3
HALL_SCOPES = ("province", "city", "county", "hall")
#: A hall with this many tickets waiting has a long queue: an open window that calls nobody then is idle.
LONG_QUEUE = 5
NODE_SCOPES = ("province", "city")
_HALL_COLUMNS = {"city": "city_code", "county": "county_code", "hall": "hall_id"}
_CAMERA_COLUMNS = {**_HALL_COLUMNS, "node": "node_id", "camera": "camera_id"}
_NODE_COLUMNS = {"city": "city_code", "node": "node_id"}
_CAMERA_GROUPS = ("city", "county", "hall", "node", "camera")


def _open_windows(q: IndicatorQuery) -> str:
    ends, step = sql.window_ends(q)
    where = sql.scope_filter(q, _HALL_COLUMNS)
    return f"""
    WITH ends AS ({ends}),
         tr AS (SELECT city_code, county_code, hall_id, window_id, at, open FROM window_transitions
                WHERE at >= {sql.START} - INTERVAL 1 DAY AND at < {sql.END}{where})
    SELECT b, countIf(last_open = 1) AS value FROM (
        SELECT {sql.key(q, f"window_end - toIntervalSecond({step})", _HALL_COLUMNS, "tr.")} AS b, window_id,
               argMax(open, at) AS last_open
        FROM ends CROSS JOIN tr
        WHERE tr.at < window_end AND {sql.same_local_day("tr.at", "window_end")}
        GROUP BY b, window_id)
    GROUP BY b ORDER BY b"""


def _window_load(q: IndicatorQuery) -> str:
    return sql.over_tickets(q, "completed_at", "count() / uniqExact(window_id)", " AND window_id != ''")


def _idle_windows(q: IndicatorQuery) -> str:
    ends, step = sql.window_ends(q)
    where = sql.scope_filter(q, _HALL_COLUMNS)
    end_b = f"toDateTime(window_end - toIntervalSecond({step}), 'UTC')"
    called_b = f"toDateTime({sql.bucket('called_at', q.window)}, 'UTC')"
    return f"""
    WITH ends AS ({ends}), t AS ({sql.tickets(q)}),
         tr AS (SELECT city_code, county_code, hall_id, window_id, at, open FROM window_transitions
                WHERE at >= {sql.START} - INTERVAL 1 DAY AND at < {sql.END}{where}),
         open_windows AS (
             SELECT b, hall_id, window_id FROM (
                 SELECT {sql.key(q, end_b, _HALL_COLUMNS, "tr.")} AS b, hall_id, window_id,
                        argMax(open, at) AS last_open
                 FROM ends CROSS JOIN tr
                 WHERE tr.at < window_end AND {sql.same_local_day("tr.at", "window_end")}
                 GROUP BY b, hall_id, window_id)
             WHERE last_open = 1),
         busy AS (SELECT DISTINCT {sql.key(q, called_b, _HALL_COLUMNS)} AS b,
                         window_id
                  FROM t WHERE called_at IS NOT NULL AND {sql.in_range("called_at")}),
         long_queues AS (
             SELECT {sql.key(q, end_b, _HALL_COLUMNS, "t.")} AS b, t.hall_id AS hall_id
             FROM ends CROSS JOIN t
             WHERE {sql.still_waiting("t", "window_end")}
             GROUP BY b, hall_id
             HAVING count() >= {LONG_QUEUE})
    SELECT o.b AS b, count() AS value
    FROM open_windows AS o
    INNER JOIN long_queues AS l ON o.b = l.b AND o.hall_id = l.hall_id
    LEFT ANTI JOIN busy AS u ON o.b = u.b AND o.window_id = u.window_id
    GROUP BY b ORDER BY b"""


def _open_window_ratio(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, _HALL_COLUMNS)
    return f"""
    SELECT o.b AS b, if(c.configured = 0, NULL, o.value / c.configured) AS value
    FROM ({_open_windows(q)}) AS o
    CROSS JOIN (SELECT {sql.entity_column(q, _HALL_COLUMNS)} AS entity, sum(windows_configured) AS configured
                FROM org_halls FINAL WHERE 1{where} GROUP BY entity) AS c
    WHERE {sql.entity_of(q, "o.b")} = c.entity
    ORDER BY b"""


def _camera_online(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, _HALL_COLUMNS)
    return f"""
    SELECT s.b AS b, if(c.configured = 0, NULL, s.online / c.configured) AS value
    FROM (SELECT b, countIf(status = 'ok') AS online FROM (
              SELECT {sql.key(q, sql.bucket("bucket", q.window), _CAMERA_COLUMNS)} AS b, camera_id,
                     argMaxMerge(last_status) AS status
              FROM camera_5m WHERE {sql.in_range("bucket")}{where} GROUP BY b, camera_id)
          GROUP BY b) AS s
    CROSS JOIN (SELECT {sql.entity_column(q, _CAMERA_COLUMNS)} AS entity, count() AS configured
                FROM org_cameras FINAL WHERE 1{where} GROUP BY entity) AS c
    WHERE {sql.entity_of(q, "s.b")} = c.entity
    ORDER BY b"""


def _camera_faults(q: IndicatorQuery) -> str:
    where = sql.scope_filter(q, _HALL_COLUMNS)
    return f"""
    SELECT b, status AS grp, sum(n) AS value FROM (
        SELECT {sql.key(q, sql.bucket("bucket", q.window), _CAMERA_COLUMNS)} AS b, faults
        FROM camera_5m WHERE {sql.in_range("bucket")}{where})
    ARRAY JOIN mapKeys(faults) AS status, mapValues(faults) AS n
    WHERE n > 0
    GROUP BY b, grp ORDER BY b, grp"""


def _nodes_online(q: IndicatorQuery) -> str:
    ends, step = sql.window_ends(q)
    where = sql.scope_filter(q, {"city": "city_code"})
    beat_b = f"window_end - toIntervalSecond({step})"
    return f"""
    WITH ends AS ({ends}),
         beats AS (SELECT city_code, node_id, bucket, last_beat_at, interval_s FROM node_beats_5m
                   WHERE bucket >= {sql.START} - INTERVAL 1 HOUR AND bucket < {sql.END}{where})
    SELECT o.b AS b, if(n.nodes = 0, NULL, o.online / n.nodes) AS value
    FROM (SELECT b,
                 countIf(dateDiff('millisecond', last_at, window_end) <= {MISSED_BEATS_OFFLINE} * interval_s * 1000)
                     AS online
          FROM (SELECT {sql.key(q, beat_b, _NODE_COLUMNS, "beats.")} AS b, window_end, node_id,
                       max(last_beat_at) AS last_at, argMax(interval_s, last_beat_at) AS interval_s
                FROM ends CROSS JOIN beats WHERE beats.last_beat_at < window_end
                GROUP BY b, window_end, node_id)
          GROUP BY b) AS o
    CROSS JOIN (SELECT {sql.entity_column(q, _NODE_COLUMNS)} AS entity, uniqExact(node_id) AS nodes
                FROM org_cameras FINAL WHERE 1{where} GROUP BY entity) AS n
    WHERE {sql.entity_of(q, "o.b")} = n.entity
    ORDER BY b"""


_W = "windows"
_V = "video"
WINDOW_AND_VIDEO: tuple[Indicator, ...] = (
    Indicator(
        "windows_open",
        _W,
        "开放窗口数",
        "windows",
        "Windows open at the end of each window: the last state change that local day before the end was "
        "window_opened or staff_login (window_paused, window_closed and staff_logout close it).",
        HALL_SCOPES,
        ALL_WINDOWS,
        _open_windows,
    ),
    Indicator(
        "open_window_ratio",
        _W,
        "窗口开放率",
        "ratio",
        "windows_open divided by the windows configured in the registry for the scope.",
        HALL_SCOPES,
        ALL_WINDOWS,
        _open_window_ratio,
    ),
    Indicator(
        "window_load",
        _W,
        "窗口平均办件量",
        "tickets",
        "Tickets completed in the window divided by the distinct windows that called them (tickets without a "
        "calling window are left out).",
        HALL_SCOPES,
        ALL_WINDOWS,
        _window_load,
    ),
    Indicator(
        "idle_windows",
        _W,
        "排队时空闲窗口数",
        "windows",
        f"At the end of each window: windows open then that called no ticket during the window, in halls where "
        f"{LONG_QUEUE} or more tickets were waiting at that moment.",
        HALL_SCOPES,
        ALL_WINDOWS,
        _idle_windows,
    ),
    Indicator(
        "camera_online_rate",
        _V,
        "摄像机在线率(快照)",
        "ratio",
        "Snapshot: cameras whose last probe in the window was ok, divided by all cameras configured in the scope; "
        "a camera not probed in the window counts as not online.",
        HALL_SCOPES,
        ALL_WINDOWS,
        _camera_online,
        groups=_CAMERA_GROUPS,
    ),
    Indicator(
        "camera_availability",
        _V,
        "摄像机可用率(时间加权)",
        "ratio",
        "Time-weighted: ok probes divided by all probes in the window; every probe stands for one probe interval, "
        "so with periodic probing this is the share of camera-time with a usable picture. Cameras never probed are "
        "excluded (camera_online_rate counts them).",
        HALL_SCOPES,
        ALL_WINDOWS,
        groups=_CAMERA_GROUPS,
        sql=lambda q: (
            f"""
    SELECT {sql.key(q, sql.bucket("bucket", q.window), _CAMERA_COLUMNS)} AS b, sum(ok_probes) / sum(probes) AS value
    FROM camera_5m WHERE {sql.in_range("bucket")}{sql.scope_filter(q, _HALL_COLUMNS)}
    GROUP BY b ORDER BY b"""
        ),
    ),
    Indicator(
        "camera_faults",
        _V,
        "故障次数(按类型)",
        "probes",
        "Probes per fault status (offline, no_signal, black, frozen, blur, occluded, color_cast, noise, brightness) "
        "in the window, by occurred_at.",
        HALL_SCOPES,
        ALL_WINDOWS,
        _camera_faults,
        grouped_by="status",
        groups=_CAMERA_GROUPS,
    ),
    Indicator(
        "nodes_online",
        _V,
        "视频节点在线率",
        "ratio",
        f"Video nodes whose last heartbeat before the end of the window is at most {MISSED_BEATS_OFFLINE} heartbeat "
        "intervals old, divided by the nodes serving the scope's cameras.",
        NODE_SCOPES,
        ALL_WINDOWS,
        _nodes_online,
        groups=("city", "node"),
    ),
)
