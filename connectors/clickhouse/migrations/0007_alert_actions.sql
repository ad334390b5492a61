-- Who silenced an alert: the silence id rides on every notice, so history can
-- name the duty officer behind a "silenced" notice.
ALTER TABLE alert_notices ADD COLUMN IF NOT EXISTS silenced_by String DEFAULT '';

-- Duty-officer actions in the monitoring center: acknowledge, silence,
-- unsilence, rule reload. One row per action, written before the API
-- answers; `action_id` makes a retried write collapse to one row.
CREATE TABLE IF NOT EXISTS alert_actions (
    action_id String,
    at DateTime64(3, 'UTC'),
    actor LowCardinality(String),
    role LowCardinality(String),
    action LowCardinality(String),
    fingerprint String,
    silence_id String,
    city_code UInt32,
    comment String,
    detail String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (action_id);
