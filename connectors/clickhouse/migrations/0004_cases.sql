-- Bad-review cases (差评工单). Each step carries the working days allowed
-- for the next one; the worker turns that into deadline_at (the end of the
-- last allowed working day, on the Chinese calendar with 调休) when it stores
-- the step.
ALTER TABLE case_events ADD COLUMN IF NOT EXISTS deadline_at Nullable(DateTime64(3, 'UTC')) AFTER deadline_working_days;

-- Every step of every case, thin: what the case indicators read.
CREATE TABLE IF NOT EXISTS case_steps (
    city_code UInt32,
    dept_id LowCardinality(String),
    case_id String,
    at DateTime64(3, 'UTC'),
    type LowCardinality(String),
    deadline_at Nullable(DateTime64(3, 'UTC'))
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(at)
ORDER BY (city_code, case_id, at, type);

CREATE MATERIALIZED VIEW IF NOT EXISTS case_steps_mv TO case_steps AS
SELECT city_code, dept_id, case_id, occurred_at AS at, type, deadline_at
FROM case_events;
