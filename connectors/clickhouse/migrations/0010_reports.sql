-- Departments as configured in the registry, for the vertical line (垂直条线) of a provincial department: the
-- department itself and every department whose parent it is. Written with org_halls from the registry topic.
CREATE TABLE IF NOT EXISTS org_depts (
    dept_id String,
    name String,
    level LowCardinality(String),
    city_code UInt32,
    parent_id String,
    updated_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(updated_at)
ORDER BY dept_id;

-- The verdict of the national upload's quality checks (上报数据质检) on each record, one row per record and
-- check run. A record checked again (a later export or report of its period) gets a newer row; the pass-rate
-- indicator reads each record's latest verdict. `reasons` holds the failing reason codes.
CREATE TABLE IF NOT EXISTS national_checks (
    record_id String,
    kind LowCardinality(String),
    city_code UInt32,
    dept_id String,
    occurred_at DateTime64(3, 'UTC'),
    passed UInt8,
    reasons Array(LowCardinality(String)),
    checked_at DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree(checked_at)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (city_code, record_id, kind);
