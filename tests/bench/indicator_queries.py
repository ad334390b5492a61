"""Benchmark: what one city-day indicator query costs ClickHouse (chDB), with a Guangzhou-sized day.

Run: .venv/bin/python -m tests.bench.indicator_queries [--tickets-per-hall 300]
Prints, per indicator, the median time of 3 runs, each run under a ClickHouse
read limit (max_rows_to_read) equal to the rows of the indicator state tables,
which is far below the raw rows of the day: a query that scanned raw events
would throw. Not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.migrations import migrate
from connectors.clickhouse.org_dims import CAMERA_COLUMNS, HALL_COLUMNS, camera_rows, hall_rows
from connectors.clickhouse.rows import ROW_BUILDERS
from streams.indicators.catalog import INDICATORS
from streams.indicators.query import IndicatorQuery
from streams.registry.generate import generate
from streams.workdays import SHANGHAI

CITY = 440100
QUEUE_COLUMNS = ROW_BUILDERS["queue_events"].columns
EVAL_COLUMNS = ROW_BUILDERS["evaluations"].columns


def _queue_row(i: int, hall, kind: str, ticket: str, at: datetime) -> tuple:
    return (
        f"b-{i}",
        kind,
        f"node-{CITY}",
        i,
        at,
        at,
        None,
        at,
        CITY,
        hall.county_code,
        hall.hall_id,
        ticket,
        "",
        "D440100-01",
        f"{hall.hall_id}-W01",
        "",
        "",
        False,
        "raw.queue",
        1,
        0,
        i,
    )


def _eval_row(i: int, hall, level: str, at: datetime) -> tuple:
    return (
        f"e-{i}",
        "evaluation",
        f"node-{CITY}",
        i,
        at,
        at,
        None,
        at,
        CITY,
        hall.county_code,
        f"BJ{i}",
        "S01001",
        "D440100-01",
        level,
        "hall_pad",
        "active",
        hall.hall_id,
        f"{hall.hall_id}-W01",
        "",
        "",
        [],
        "",
        "a" * 64,
        "raw.evaluation",
        1,
        0,
        i,
    )


def fill(ch: ClickHouse, day: datetime, tickets_per_hall: int, rng: random.Random) -> tuple[int, int]:
    registry = generate(halls=2100)
    now = datetime.now(UTC)
    ch.client_insert("org_halls", hall_rows(registry, now), HALL_COLUMNS)
    ch.client_insert("org_cameras", camera_rows(registry, now), CAMERA_COLUMNS)
    queue, evals, i = [], [], 0
    for hall in registry.halls_in_city(CITY):
        for n in range(tickets_per_hall):
            issued = day + timedelta(hours=9, seconds=rng.uniform(0, 8 * 3600))
            called = issued + timedelta(seconds=rng.expovariate(1 / 600))
            done = called + timedelta(seconds=rng.lognormvariate(6, 0.4))
            ticket = f"A{n:04d}"
            for kind, at in (
                ("ticket_issued", issued),
                ("ticket_called", called),
                ("service_started", called),
                ("service_completed", done),
            ):
                i += 1
                queue.append(_queue_row(i, hall, kind, ticket, at))
            if rng.random() < 0.6:
                i += 1
                evals.append(_eval_row(i, hall, rng.choice(["very_satisfied"] * 9 + ["dissatisfied"]), done))
    for start in range(0, len(queue), 100_000):
        ch.client_insert("queue_events", queue[start : start + 100_000], QUEUE_COLUMNS)
    ch.client_insert("evaluations", evals, EVAL_COLUMNS)
    return len(queue), len(evals)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets-per-hall", type=int, default=300)
    args = parser.parse_args()
    ch = ClickHouse(f"chdb://{tempfile.mkdtemp(prefix='govpulse-bench-')}", "govpulse")
    ch.open()
    migrate(ch)
    ch.client_insert = lambda table, rows, columns: ch._client.insert(table, rows, column_names=list(columns))  # type: ignore[attr-defined]
    day = (datetime.now(SHANGHAI) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    queue_rows, eval_rows = fill(ch, day, args.tickets_per_hall, random.Random(7))
    tickets = ch._client.query(
        "SELECT count() FROM (SELECT 1 FROM ticket_facts GROUP BY city_code, hall_id, day, ticket_no)"
    ).result_rows[0][0]
    print(
        f"day of {CITY}: {queue_rows:,} queue events, {eval_rows:,} evaluations, {tickets:,} tickets"
        f" (loaded in {time.perf_counter() - started:.1f} s)"
    )
    state = {
        t: ch._client.query(f"SELECT count() FROM {t}").result_rows[0][0]
        for t in ("ticket_facts", "evaluation_5m", "org_halls", "org_cameras")
    }
    limit = sum(state.values())
    print(f"state rows: {state}; each query may read at most {limit:,} rows (raw rows: {queue_rows + eval_rows:,})")
    print(f"{'indicator':<26} {'window':<6} {'median ms':>10}")
    for name in (
        "tickets_issued",
        "wait_p90_s",
        "service_level",
        "queue_waiting",
        "satisfaction_rate",
        "evaluation_coverage",
    ):
        for window in ("1h", "1d"):
            q = IndicatorQuery.build(f"city:{CITY}", window, day, day + timedelta(days=1), datetime.now(UTC))
            sql = INDICATORS[name].sql(q)
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                ch._client.query(
                    sql, parameters=q.params(), settings={"max_rows_to_read": limit, "read_overflow_mode": "throw"}
                )
                times.append((time.perf_counter() - t0) * 1000)
            print(f"{name:<26} {window:<6} {statistics.median(times):>10.1f}")
    ch.close()


if __name__ == "__main__":
    main()
