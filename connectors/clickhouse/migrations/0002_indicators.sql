-- Rolling indicator state, kept current by materialized views as events are
-- inserted. Indicator queries read these tables, never the raw event tables.
--
-- Event time (occurred_at, UTC) places an event in a window; a late event
-- lands in the window it happened in. Days are local days in Asia/Shanghai.

-- Halls as configured in the registry: the wait target and the number of
-- windows, which indicators need and events do not carry. Written by the
-- worker from the registry topic.
CREATE TABLE IF NOT EXISTS org_halls (
    hall_id String,
    name String,
    level LowCardinality(String),
    city_code UInt32,
    county_code UInt32,
    wait_target_s UInt32,
    windows_configured UInt16,
    updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY hall_id;

-- One row per ticket (hall, local day, ticket number), merged from its events.
-- min/max states make it idempotent: an event stored twice changes nothing.
--   issued_at     first ticket_issued
--   called_at     first ticket_called (the end of the wait)
--   started_at    first service_started
--   completed_at  last service_completed
--   no_show_at    first ticket_no_show (called, absent)
--   walkout_at    first ticket_walkout (left before being called)
CREATE TABLE IF NOT EXISTS ticket_facts (
    city_code UInt32,
    hall_id LowCardinality(String),
    day Date,
    ticket_no String,
    county_code SimpleAggregateFunction(max, UInt32),
    dept_id SimpleAggregateFunction(max, String),
    appointment SimpleAggregateFunction(max, UInt8),
    issued_at SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    called_at SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    started_at SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    completed_at SimpleAggregateFunction(max, Nullable(DateTime64(3, 'UTC'))),
    no_show_at SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    walkout_at SimpleAggregateFunction(min, Nullable(DateTime64(3, 'UTC'))),
    transfers SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (city_code, hall_id, day, ticket_no);

CREATE MATERIALIZED VIEW IF NOT EXISTS ticket_facts_mv TO ticket_facts AS
SELECT
    city_code,
    hall_id,
    toDate(occurred_at, 'Asia/Shanghai') AS day,
    ticket_no,
    max(county_code) AS county_code,
    max(dept_id) AS dept_id,
    max(toUInt8(appointment)) AS appointment,
    minIf(toNullable(occurred_at), type = 'ticket_issued') AS issued_at,
    minIf(toNullable(occurred_at), type = 'ticket_called') AS called_at,
    minIf(toNullable(occurred_at), type = 'service_started') AS started_at,
    maxIf(toNullable(occurred_at), type = 'service_completed') AS completed_at,
    minIf(toNullable(occurred_at), type = 'ticket_no_show') AS no_show_at,
    minIf(toNullable(occurred_at), type = 'ticket_walkout') AS walkout_at,
    countIf(type = 'ticket_transferred') AS transfers
FROM queue_events
GROUP BY city_code, hall_id, day, ticket_no;

-- Evaluations per 5 minutes (occurred_at), per hall, department, channel,
-- level and mode. Online evaluations have hall_id ''.
CREATE TABLE IF NOT EXISTS evaluation_5m (
    bucket DateTime('UTC'),
    city_code UInt32,
    county_code UInt32,
    hall_id LowCardinality(String),
    dept_id LowCardinality(String),
    channel LowCardinality(String),
    level LowCardinality(String),
    mode LowCardinality(String),
    evaluations UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (city_code, bucket, hall_id, dept_id, channel, level, mode);

CREATE MATERIALIZED VIEW IF NOT EXISTS evaluation_5m_mv TO evaluation_5m AS
SELECT
    toStartOfFiveMinutes(occurred_at) AS bucket,
    city_code, county_code, hall_id, dept_id, channel, level, mode,
    count() AS evaluations
FROM evaluations
GROUP BY bucket, city_code, county_code, hall_id, dept_id, channel, level, mode;

-- Per device and hour: how many evaluations one device gave, for the
-- suspicious-evaluation share (brushing: many top marks from one device).
CREATE TABLE IF NOT EXISTS evaluation_device_1h (
    bucket DateTime('UTC'),
    city_code UInt32,
    county_code UInt32,
    hall_id LowCardinality(String),
    device_id String,
    evaluations UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (city_code, bucket, hall_id, device_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS evaluation_device_1h_mv TO evaluation_device_1h AS
SELECT toStartOfHour(occurred_at) AS bucket, city_code, county_code, hall_id, device_id, count() AS evaluations
FROM evaluations
WHERE device_id != ''
GROUP BY bucket, city_code, county_code, hall_id, device_id;

-- Data quality of accepted events per source, stream and 5 minutes of
-- ingested_at (when govpulse stored them, so a late event shows up now, as
-- late). lag = ingested_at - occurred_at.
CREATE TABLE IF NOT EXISTS ingest_quality_5m (
    bucket DateTime('UTC'),
    source LowCardinality(String),
    stream LowCardinality(String),
    city_code UInt32,
    events SimpleAggregateFunction(sum, UInt64),
    late_events SimpleAggregateFunction(sum, UInt64),
    lag_s AggregateFunction(quantilesTDigest(0.5, 0.95), Float64),
    min_seq SimpleAggregateFunction(min, UInt64),
    max_seq SimpleAggregateFunction(max, UInt64),
    seqs AggregateFunction(uniqExact, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (source, stream, bucket, city_code);

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_quality_queue_events_mv TO ingest_quality_5m AS
SELECT
    toStartOfFiveMinutes(ingested_at) AS bucket, source, 'queue' AS stream, city_code,
    count() AS events,
    countIf(dateDiff('second', occurred_at, ingested_at) > 300) AS late_events,
    quantilesTDigestState(0.5, 0.95)(greatest(toFloat64(dateDiff('millisecond', occurred_at, ingested_at)) / 1000, 0)) AS lag_s,
    min(seq) AS min_seq, max(seq) AS max_seq, uniqExactState(seq) AS seqs
FROM queue_events
GROUP BY bucket, source, city_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_quality_window_events_mv TO ingest_quality_5m AS
SELECT
    toStartOfFiveMinutes(ingested_at) AS bucket, source, 'window' AS stream, city_code,
    count() AS events,
    countIf(dateDiff('second', occurred_at, ingested_at) > 300) AS late_events,
    quantilesTDigestState(0.5, 0.95)(greatest(toFloat64(dateDiff('millisecond', occurred_at, ingested_at)) / 1000, 0)) AS lag_s,
    min(seq) AS min_seq, max(seq) AS max_seq, uniqExactState(seq) AS seqs
FROM window_events
GROUP BY bucket, source, city_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_quality_evaluations_mv TO ingest_quality_5m AS
SELECT
    toStartOfFiveMinutes(ingested_at) AS bucket, source, 'evaluation' AS stream, city_code,
    count() AS events,
    countIf(dateDiff('second', occurred_at, ingested_at) > 300) AS late_events,
    quantilesTDigestState(0.5, 0.95)(greatest(toFloat64(dateDiff('millisecond', occurred_at, ingested_at)) / 1000, 0)) AS lag_s,
    min(seq) AS min_seq, max(seq) AS max_seq, uniqExactState(seq) AS seqs
FROM evaluations
GROUP BY bucket, source, city_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_quality_case_events_mv TO ingest_quality_5m AS
SELECT
    toStartOfFiveMinutes(ingested_at) AS bucket, source, 'case' AS stream, city_code,
    count() AS events,
    countIf(dateDiff('second', occurred_at, ingested_at) > 300) AS late_events,
    quantilesTDigestState(0.5, 0.95)(greatest(toFloat64(dateDiff('millisecond', occurred_at, ingested_at)) / 1000, 0)) AS lag_s,
    min(seq) AS min_seq, max(seq) AS max_seq, uniqExactState(seq) AS seqs
FROM case_events
GROUP BY bucket, source, city_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_quality_node_heartbeats_mv TO ingest_quality_5m AS
SELECT
    toStartOfFiveMinutes(ingested_at) AS bucket, source, 'video' AS stream, city_code,
    count() AS events,
    countIf(dateDiff('second', occurred_at, ingested_at) > 300) AS late_events,
    quantilesTDigestState(0.5, 0.95)(greatest(toFloat64(dateDiff('millisecond', occurred_at, ingested_at)) / 1000, 0)) AS lag_s,
    min(seq) AS min_seq, max(seq) AS max_seq, uniqExactState(seq) AS seqs
FROM node_heartbeats
GROUP BY bucket, source, city_code;

CREATE MATERIALIZED VIEW IF NOT EXISTS ingest_quality_camera_probes_mv TO ingest_quality_5m AS
SELECT
    toStartOfFiveMinutes(ingested_at) AS bucket, source, 'video' AS stream, city_code,
    count() AS events,
    countIf(dateDiff('second', occurred_at, ingested_at) > 300) AS late_events,
    quantilesTDigestState(0.5, 0.95)(greatest(toFloat64(dateDiff('millisecond', occurred_at, ingested_at)) / 1000, 0)) AS lag_s,
    min(seq) AS min_seq, max(seq) AS max_seq, uniqExactState(seq) AS seqs
FROM camera_probes
GROUP BY bucket, source, city_code;

-- Rejected records per source, stream, reason and 5 minutes of rejected_at.
CREATE TABLE IF NOT EXISTS rejections_5m (
    bucket DateTime('UTC'),
    source LowCardinality(String),
    stream LowCardinality(String),
    reason LowCardinality(String),
    city_code UInt32,
    records UInt64
) ENGINE = SummingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (source, stream, bucket, reason, city_code);

CREATE MATERIALIZED VIEW IF NOT EXISTS rejections_5m_mv TO rejections_5m AS
SELECT toStartOfFiveMinutes(rejected_at) AS bucket, source, stream, reason, city_code, count() AS records
FROM rejections
GROUP BY bucket, source, stream, reason, city_code;
