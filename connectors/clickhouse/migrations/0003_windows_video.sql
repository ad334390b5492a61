-- Indicator state for service windows and the video network.

-- Cameras as configured in the registry (the denominator of online rates).
CREATE TABLE IF NOT EXISTS org_cameras (
    camera_id String,
    hall_id String,
    node_id String,
    city_code UInt32,
    county_code UInt32,
    updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY camera_id;

-- Every change of a window's state, thin: open = 1 after window_opened or
-- staff_login, 0 after window_paused, window_closed or staff_logout.
CREATE TABLE IF NOT EXISTS window_transitions (
    city_code UInt32,
    county_code UInt32,
    hall_id LowCardinality(String),
    window_id String,
    at DateTime64(3, 'UTC'),
    open UInt8
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (city_code, hall_id, window_id, at);

CREATE MATERIALIZED VIEW IF NOT EXISTS window_transitions_mv TO window_transitions AS
SELECT city_code, county_code, hall_id, window_id, occurred_at AS at, toUInt8(type IN ('window_opened', 'staff_login')) AS open
FROM window_events;

-- Camera probes per camera and 5 minutes (occurred_at): how many, how many
-- ok, the last status, and probes per fault status.
CREATE TABLE IF NOT EXISTS camera_5m (
    bucket DateTime('UTC'),
    city_code UInt32,
    county_code UInt32,
    hall_id LowCardinality(String),
    node_id LowCardinality(String),
    camera_id String,
    probes SimpleAggregateFunction(sum, UInt64),
    ok_probes SimpleAggregateFunction(sum, UInt64),
    last_status AggregateFunction(argMax, String, DateTime64(3, 'UTC')),
    faults SimpleAggregateFunction(sumMap, Map(String, UInt64))
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (city_code, bucket, county_code, hall_id, node_id, camera_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS camera_5m_mv TO camera_5m AS
SELECT
    toStartOfFiveMinutes(occurred_at) AS bucket,
    city_code, county_code, hall_id, node_id, camera_id,
    count() AS probes,
    countIf(status = 'ok') AS ok_probes,
    argMaxState(toString(status), occurred_at) AS last_status,
    sumMap(map(toString(status), toUInt64(status != 'ok'))) AS faults
FROM camera_probes
GROUP BY bucket, city_code, county_code, hall_id, node_id, camera_id;

-- Node heartbeats per node and 5 minutes: the last beat and its interval.
CREATE TABLE IF NOT EXISTS node_beats_5m (
    bucket DateTime('UTC'),
    city_code UInt32,
    node_id LowCardinality(String),
    beats SimpleAggregateFunction(sum, UInt64),
    last_beat_at SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
    interval_s SimpleAggregateFunction(max, UInt32)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (city_code, node_id, bucket);

CREATE MATERIALIZED VIEW IF NOT EXISTS node_beats_5m_mv TO node_beats_5m AS
SELECT toStartOfFiveMinutes(occurred_at) AS bucket, city_code, node_id, count() AS beats,
       max(occurred_at) AS last_beat_at, max(interval_s) AS interval_s
FROM node_heartbeats
GROUP BY bucket, city_code, node_id;
