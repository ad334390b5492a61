-- Alert history: every notice the alert engine emitted (firing, resolved,
-- acknowledged, silenced, ...). `notice_key` = fingerprint:episode:kind is
-- the idempotency key: a notice written twice collapses to one row.
CREATE TABLE IF NOT EXISTS alert_notices (
    notice_key String,
    fingerprint String,
    episode UInt32,
    kind LowCardinality(String),
    rule_id LowCardinality(String),
    severity LowCardinality(String),
    state LowCardinality(String),
    city_code UInt32,
    group_keys Map(String, String),
    labels Map(String, String),
    value Nullable(Float64),
    evidence String,
    started_at Nullable(DateTime64(3, 'UTC')),
    at DateTime64(3, 'UTC'),
    acknowledged_by String,
    silenced UInt8,
    inhibited_by String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (notice_key);
