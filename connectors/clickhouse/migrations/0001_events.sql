-- Raw accepted events, one table per stream.
--
-- Every row carries where it came from (_topic, _generation, _partition,
-- _offset; the generation counts re-creations of the topic, whose offsets then
-- start again at 0, as they do at every start of the in-memory embedded broker). After a
-- crash or a rebalance the sink reads max(_offset) per partition back and skips
-- what is already stored: that, with one atomic INSERT per write, is what makes
-- a redelivered batch leave no duplicate row. Partitioning by ingested_at,
-- which is one value per INSERT, keeps each INSERT in a single part and so
-- atomic. ReplacingMergeTree on event_id is a second line for duplicates older
-- than the worker's in-memory window.
--
-- Times are UTC. occurred_at: when it happened at the hall; sent_at: when the
-- node sent it; received_at: when the gateway took it (NULL through the SDK);
-- ingested_at: when the worker wrote it.

CREATE TABLE IF NOT EXISTS queue_events (
    event_id String,
    type LowCardinality(String),
    source LowCardinality(String),
    seq UInt64,
    occurred_at DateTime64(3, 'UTC'),
    sent_at DateTime64(3, 'UTC'),
    received_at Nullable(DateTime64(3, 'UTC')),
    ingested_at DateTime64(3, 'UTC'),
    city_code UInt32,
    county_code UInt32,
    hall_id LowCardinality(String),
    ticket_no String,
    item_id String,
    dept_id LowCardinality(String),
    window_id String,
    to_window_id String,
    staff_id String,
    appointment Bool,
    _topic LowCardinality(String),
    _generation UInt32,
    _partition UInt16,
    _offset UInt64
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (city_code, event_id);

CREATE TABLE IF NOT EXISTS window_events (
    event_id String,
    type LowCardinality(String),
    source LowCardinality(String),
    seq UInt64,
    occurred_at DateTime64(3, 'UTC'),
    sent_at DateTime64(3, 'UTC'),
    received_at Nullable(DateTime64(3, 'UTC')),
    ingested_at DateTime64(3, 'UTC'),
    city_code UInt32,
    county_code UInt32,
    hall_id LowCardinality(String),
    window_id String,
    staff_id String,
    _topic LowCardinality(String),
    _generation UInt32,
    _partition UInt16,
    _offset UInt64
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (city_code, event_id);

CREATE TABLE IF NOT EXISTS evaluations (
    event_id String,
    type LowCardinality(String),
    source LowCardinality(String),
    seq UInt64,
    occurred_at DateTime64(3, 'UTC'),
    sent_at DateTime64(3, 'UTC'),
    received_at Nullable(DateTime64(3, 'UTC')),
    ingested_at DateTime64(3, 'UTC'),
    city_code UInt32,
    county_code UInt32,
    case_no String,
    item_id String,
    dept_id LowCardinality(String),
    level LowCardinality(String),
    channel LowCardinality(String),
    mode LowCardinality(String),
    hall_id LowCardinality(String),
    window_id String,
    staff_id String,
    device_id String,
    reason_tags Array(String),
    comment String,
    evaluator_hash FixedString(64),
    _topic LowCardinality(String),
    _generation UInt32,
    _partition UInt16,
    _offset UInt64
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (city_code, event_id);

CREATE TABLE IF NOT EXISTS case_events (
    event_id String,
    type LowCardinality(String),
    source LowCardinality(String),
    seq UInt64,
    occurred_at DateTime64(3, 'UTC'),
    sent_at DateTime64(3, 'UTC'),
    received_at Nullable(DateTime64(3, 'UTC')),
    ingested_at DateTime64(3, 'UTC'),
    city_code UInt32,
    county_code UInt32,
    case_id String,
    case_no String,
    dept_id LowCardinality(String),
    to_dept_id LowCardinality(String),
    direction LowCardinality(String),
    deadline_working_days Nullable(UInt8),
    outcome String,
    _topic LowCardinality(String),
    _generation UInt32,
    _partition UInt16,
    _offset UInt64
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (city_code, event_id);

CREATE TABLE IF NOT EXISTS node_heartbeats (
    event_id String,
    type LowCardinality(String),
    source LowCardinality(String),
    seq UInt64,
    occurred_at DateTime64(3, 'UTC'),
    sent_at DateTime64(3, 'UTC'),
    received_at Nullable(DateTime64(3, 'UTC')),
    ingested_at DateTime64(3, 'UTC'),
    city_code UInt32,
    county_code UInt32,
    node_id LowCardinality(String),
    cameras_total UInt32,
    cameras_online UInt32,
    version String,
    interval_s UInt32,
    _topic LowCardinality(String),
    _generation UInt32,
    _partition UInt16,
    _offset UInt64
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (city_code, event_id);

CREATE TABLE IF NOT EXISTS camera_probes (
    event_id String,
    type LowCardinality(String),
    source LowCardinality(String),
    seq UInt64,
    occurred_at DateTime64(3, 'UTC'),
    sent_at DateTime64(3, 'UTC'),
    received_at Nullable(DateTime64(3, 'UTC')),
    ingested_at DateTime64(3, 'UTC'),
    city_code UInt32,
    county_code UInt32,
    camera_id String,
    hall_id LowCardinality(String),
    node_id LowCardinality(String),
    status LowCardinality(String),
    fps Nullable(Float32),
    width Nullable(UInt16),
    height Nullable(UInt16),
    open_latency_ms Nullable(Float32),
    scores Map(LowCardinality(String), Float32),
    _topic LowCardinality(String),
    _generation UInt32,
    _partition UInt16,
    _offset UInt64
) ENGINE = ReplacingMergeTree(ingested_at)
PARTITION BY toYYYYMM(ingested_at)
ORDER BY (city_code, event_id);

-- Rejected records, written from the dead-letter topic. `origin` names where
-- the verdict was given (`gw:<batch_id>` at the gateway, `<topic>:<partition>:<offset>`
-- in the worker) so that a dead letter produced twice collapses to one row.
CREATE TABLE IF NOT EXISTS rejections (
    origin String,
    record_index UInt32,
    reason LowCardinality(String),
    detail String,
    stream LowCardinality(String),
    source LowCardinality(String),
    city_code UInt32,
    event_id String,
    record String,
    rejected_at DateTime64(3, 'UTC'),
    _partition UInt16,
    _offset UInt64
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(rejected_at)
ORDER BY (origin, record_index);

-- Each time govpulse creates a raw topic that existed before (the embedded
-- broker forgets its topics on restart), the topic's generation goes up, so
-- offsets of the new topic are never mistaken for ones already stored.
CREATE TABLE IF NOT EXISTS topic_generations (
    topic String,
    generation UInt32,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree
ORDER BY (topic, generation);
