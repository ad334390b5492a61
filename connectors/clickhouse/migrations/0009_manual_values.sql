-- Indicator values entered by hand (e.g. 现场检查得分, an on-site inspection
-- score) and uploaded as CSV or XLSX: one row per accepted value, one value
-- covering a whole period (local dates period_start..period_end) of one city or
-- department. A corrected upload adds rows and never overwrites: the latest
-- uploaded_at per (indicator, entity, period) is the value queries use, and the
-- older rows are the history. `upload_id` is in the key so that a retried
-- write of the same upload collapses to one row.
CREATE TABLE IF NOT EXISTS manual_values (
    indicator LowCardinality(String),
    entity_kind LowCardinality(String),
    entity String,
    -- The city the entity lies in (a department's city; 0 for a provincial department), for a city user's scope.
    city_code UInt32,
    period_label String,
    period_start Date,
    period_end Date,
    value Float64,
    note String,
    upload_id String,
    uploaded_by LowCardinality(String),
    role LowCardinality(String),
    uploaded_at DateTime64(3, 'UTC'),
    file_name String,
    file_sha256 String,
    line UInt32
) ENGINE = ReplacingMergeTree
ORDER BY (indicator, entity_kind, entity, period_start, period_end, upload_id);
