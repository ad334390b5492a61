-- The window that called each ticket, for window load and idle windows.
-- The view is replaced to fill the new column; migrations run before the
-- worker consumes, so no insert passes between the two statements.
ALTER TABLE ticket_facts ADD COLUMN IF NOT EXISTS window_id SimpleAggregateFunction(max, String);

DROP VIEW IF EXISTS ticket_facts_mv;

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
    countIf(type = 'ticket_transferred') AS transfers,
    maxIf(window_id, type = 'ticket_called') AS window_id
FROM queue_events
GROUP BY city_code, hall_id, day, ticket_no;
