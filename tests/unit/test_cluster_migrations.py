"""The cluster form of the migrations: parsed by ClickHouse, shaped as intended, and consistent when run."""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from connectors.clickhouse import client as client_module
from connectors.clickhouse.client import ClickHouse, foreground_insert_setting
from connectors.clickhouse.cluster import (
    GLOBAL_TABLES,
    SHARDED_TABLES,
    UnknownStatement,
    cluster_statements,
    column_names,
)
from connectors.clickhouse.migrations import (
    _LEDGER,
    cluster_migration,
    ledger_statements,
    migrate,
    migration_files,
    statements,
)

CLUSTER = "govpulse_cluster"
DATABASE = "gp_cluster_test"
PLAN = ledger_statements(CLUSTER, DATABASE) + [s for _, _, stmts in cluster_migration(CLUSTER, DATABASE) for s in stmts]
_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*ENGINE", re.DOTALL)


_CHILD_STORES: dict[str, ClickHouse] = {}


def _child_call(path: str, sql: str, parameters: dict[str, Any] | None, query: bool) -> list[tuple[Any, ...]]:
    """Runs in the chDB child process; opens the store on first use."""
    if path not in _CHILD_STORES:
        _CHILD_STORES[path] = store = ClickHouse(f"chdb://{path}", DATABASE)
        store.open()
    store = _CHILD_STORES[path]
    if query:
        return store.query_sync(sql, parameters)
    store.command_sync(sql)
    return []


class _ChdbProcess:
    """chDB in a child process of its own.

    chDB opens one data directory per process, and when the whole suite runs in one
    pytest process the integration stack already holds another one.
    """

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))

    def command_sync(self, sql: str) -> None:
        self._pool.submit(_child_call, self._path, sql, None, False).result()

    def query_sync(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self._pool.submit(_child_call, self._path, sql, parameters, True).result()

    def close(self) -> None:
        self._pool.shutdown()


@pytest.fixture(scope="module")
def ch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_ChdbProcess]:
    pytest.importorskip("chdb")
    store = _ChdbProcess(tmp_path_factory.mktemp("chdb-cluster"))
    yield store
    store.close()


def _created_tables() -> dict[str, list[str]]:
    """Every table the migration files and the ledger create, with its columns."""
    found = {}
    for stmt in [_LEDGER.strip()] + [s for _, _, sql in migration_files() for s in statements(sql)]:
        match = _CREATE.match(stmt)
        if match:
            found[match.group(1)] = column_names(match.group(2))
    return found


def _create_of(name: str) -> str:
    prefix = f"CREATE TABLE IF NOT EXISTS {DATABASE}.{name} ON CLUSTER {CLUSTER} "
    [stmt] = [s for s in PLAN if s.startswith(prefix)]
    return stmt


# -- shape ------------------------------------------------------------------------------


def test_the_table_lists_cover_every_table_and_sharded_ones_have_city_code() -> None:
    """Each created table is sharded or global, never both, and a sharded one has the city_code it is split by."""
    tables = _created_tables()
    assert SHARDED_TABLES.isdisjoint(GLOBAL_TABLES)
    assert set(tables) == SHARDED_TABLES | GLOBAL_TABLES
    assert all("city_code" in tables[name] for name in SHARDED_TABLES)


def test_every_statement_runs_on_the_cluster() -> None:
    """No statement of the cluster form would run on the one node it is sent to."""
    assert PLAN
    assert all(re.search(rf"\bON CLUSTER {CLUSTER}\b", stmt) for stmt in PLAN)


def test_a_sharded_table_is_replicated_per_shard_behind_a_distributed_table() -> None:
    """X_local is a Replicated*MergeTree under a per-shard Keeper path; X spreads rows over shards by city."""
    for name in SHARDED_TABLES:
        path = f"/clickhouse/tables/{{shard}}/{DATABASE}/{name}_local"
        assert re.search(
            rf"ENGINE = Replicated\w*MergeTree\('{re.escape(path)}', '\{{replica\}}'", _create_of(f"{name}_local")
        )
        assert _create_of(name).endswith(
            f"AS {DATABASE}.{name}_local ENGINE = Distributed('{CLUSTER}', '{DATABASE}', '{name}_local', "
            "cityHash64(city_code))"
        )


def test_a_global_table_is_one_replicated_copy_on_every_node() -> None:
    """A global table keeps its name, has no _local part and shares one Keeper path across shards."""
    for name in GLOBAL_TABLES:
        stmt = _create_of(name)
        assert f"('/clickhouse/tables/all/{DATABASE}/{name}', '{{replica}}'" in stmt
        assert "{shard}" not in stmt and "Distributed" not in stmt
        assert not any(f"{name}_local" in s for s in PLAN)


def test_views_read_and_write_the_shard_local_tables() -> None:
    """A view reads _local sharded tables (or global ones) and writes TO the _local part of a sharded target."""
    views = [s for s in PLAN if s.startswith("CREATE MATERIALIZED VIEW")]
    assert views
    for stmt in views:
        to_table = re.search(rf"TO {DATABASE}\.(\w+) AS SELECT", stmt)
        assert to_table is not None, stmt
        target = to_table.group(1)
        assert target in GLOBAL_TABLES or (
            target.endswith("_local") and target.removesuffix("_local") in SHARDED_TABLES
        )
        sources = re.findall(r"\b(?:FROM|JOIN)\s+([\w.]+)", stmt)
        assert sources
        for source in sources:
            db, table = source.split(".")
            assert db == DATABASE
            assert table in GLOBAL_TABLES or (
                table.endswith("_local") and table.removesuffix("_local") in SHARDED_TABLES
            )


def test_an_alter_of_a_sharded_table_reaches_the_shards_and_the_distributed_table() -> None:
    """The shards get the column first, then the Distributed table; a global table gets one ALTER."""
    sharded = cluster_statements(
        "ALTER TABLE camera_probes ADD COLUMN IF NOT EXISTS reason String DEFAULT ''", CLUSTER, DATABASE
    )
    assert sharded == [
        f"ALTER TABLE {DATABASE}.camera_probes_local ON CLUSTER {CLUSTER} "
        "ADD COLUMN IF NOT EXISTS reason String DEFAULT ''",
        f"ALTER TABLE {DATABASE}.camera_probes ON CLUSTER {CLUSTER} ADD COLUMN IF NOT EXISTS reason String DEFAULT ''",
    ]
    single = cluster_statements(
        "ALTER TABLE alert_notices ADD COLUMN IF NOT EXISTS silenced_by String DEFAULT ''", CLUSTER, DATABASE
    )
    assert single == [
        f"ALTER TABLE {DATABASE}.alert_notices ON CLUSTER {CLUSTER} "
        "ADD COLUMN IF NOT EXISTS silenced_by String DEFAULT ''"
    ]
    for i, stmt in enumerate(PLAN):
        if not stmt.startswith("ALTER TABLE"):
            continue
        table = stmt.split()[2].removeprefix(f"{DATABASE}.")
        if table in SHARDED_TABLES:
            assert PLAN[i - 1] == stmt.replace(f".{table} ON", f".{table}_local ON", 1)
        elif table.endswith("_local"):
            assert PLAN[i + 1] == stmt.replace("_local ON", " ON", 1)
        else:
            assert table in GLOBAL_TABLES


def test_a_dropped_view_is_dropped_on_every_node() -> None:
    """DROP VIEW gets ON CLUSTER, so the view replaced by 0005 is replaced everywhere."""
    assert cluster_statements("DROP VIEW IF EXISTS ticket_facts_mv", CLUSTER, DATABASE) == [
        f"DROP VIEW IF EXISTS {DATABASE}.ticket_facts_mv ON CLUSTER {CLUSTER}"
    ]


@pytest.mark.parametrize(
    "stmt",
    [
        "INSERT INTO queue_events (event_id) VALUES ('e1')",
        "CREATE VIEW v AS SELECT 1",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS mv ENGINE = MergeTree ORDER BY x AS SELECT x FROM queue_events",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO ticket_facts AS SELECT x FROM other_db.queue_events",
        "CREATE MATERIALIZED VIEW IF NOT EXISTS mv TO ticket_facts AS SELECT hall_id AS city_code FROM org_halls",
        "CREATE TABLE IF NOT EXISTS brand_new (city_code UInt32) ENGINE = MergeTree ORDER BY city_code",
        "CREATE TABLE IF NOT EXISTS queue_events (event_id String) ENGINE = MergeTree ORDER BY event_id",
        "CREATE TABLE IF NOT EXISTS org_halls (hall_id String) ENGINE = Memory",
        "ALTER TABLE queue_events DELETE WHERE city_code = 0",
        "ALTER TABLE brand_new ADD COLUMN x UInt8",
        "ALTER TABLE queue_events ON CLUSTER other ADD COLUMN x UInt8",
        "TRUNCATE TABLE queue_events",
        "DROP TABLE IF EXISTS queue_events",
    ],
)
def test_a_statement_without_a_known_cluster_form_is_refused(stmt: str) -> None:
    """A future migration cannot slip onto a cluster in its single-node form: the error quotes the statement."""
    with pytest.raises(UnknownStatement) as refused:
        cluster_statements(stmt, CLUSTER, DATABASE)
    assert stmt in str(refused.value)


class _RecordingClickHouse:
    """Stands in for ClickHouse in migrate(): records commands, has an empty ledger."""

    database = DATABASE

    def __init__(self) -> None:
        self.commands: list[str] = []

    def command_sync(self, sql: str) -> None:
        self.commands.append(sql)

    def query_sync(self, sql: str) -> list[tuple[Any, ...]]:
        return []


def test_migrate_on_a_cluster_sends_the_cluster_form_and_records_each_migration() -> None:
    """migrate(ch, cluster) runs the ledger and every migration ON CLUSTER, and notes each one in the ledger."""
    ch = _RecordingClickHouse()
    applied = migrate(ch, CLUSTER)  # type: ignore[arg-type]  # records the statements ClickHouse would run
    assert applied == [name for _, name, _ in migration_files()]
    assert [c for c in ch.commands if not c.startswith("INSERT INTO schema_migrations")] == PLAN
    assert sum(c.startswith("INSERT INTO schema_migrations") for c in ch.commands) == len(applied)


# -- ClickHouse itself ------------------------------------------------------------------


def test_every_cluster_statement_parses_in_clickhouse(ch: _ChdbProcess) -> None:
    """formatQuery parses without running, so a syntax error in any rewritten statement fails here."""
    for stmt in PLAN:
        [(formatted,)] = ch.query_sync("SELECT formatQuery({stmt:String})", {"stmt": stmt})
        assert "ON CLUSTER" in formatted


def _declustered(stmt: str) -> str:
    """The statement as one node without a cluster would run it.

    chDB has no remote_servers, macros or Keeper, so ON CLUSTER, Replicated engines and
    Distributed tables cannot run on it. Dropping ON CLUSTER and the two Keeper
    arguments leaves the plain engine; a Merge table over the one X_local stands in
    for Distributed, which is what Distributed is on a one-shard cluster: a read
    through X that sees the X_local rows.
    """
    stmt = stmt.replace(f" ON CLUSTER {CLUSTER}", "")
    stmt = re.sub(r"Replicated(\w*MergeTree)\('/clickhouse/tables/[^']*', '\{replica\}'(?:, )?", r"\1(", stmt)
    return re.sub(r"Distributed\('\w+', '(\w+)', '(\w+)', cityHash64\(city_code\)\)", r"Merge('\1', '^\2$')", stmt)


_EVENTS = {
    "queue_events_local": (
        "event_id, type, source, seq, occurred_at, ingested_at, city_code, hall_id, ticket_no, window_id",
        (
            "('q1', 'ticket_issued', 'hall-a', 1, '2024-05-06 01:00:00', '2024-05-06 01:00:01', "
            "4401, 'h1', 'A001', ''),"
            "('q2', 'ticket_called', 'hall-a', 2, '2024-05-06 01:05:00', '2024-05-06 01:05:01', "
            "4401, 'h1', 'A001', 'w7'),"
            "('q3', 'ticket_issued', 'hall-b', 1, '2024-05-06 01:00:00', '2024-05-06 01:00:01', 4403, 'h2', 'B001', '')"
        ),
    ),
    "window_events_local": (
        "event_id, type, source, seq, occurred_at, ingested_at, city_code, hall_id, window_id",
        "('w1', 'window_opened', 'hall-a', 3, '2024-05-06 00:59:00', '2024-05-06 00:59:01', 4401, 'h1', 'w7')",
    ),
    "evaluations_local": (
        "event_id, type, source, seq, occurred_at, ingested_at, city_code, hall_id, level, device_id",
        "('e1', 'evaluation', 'hall-a', 4, '2024-05-06 01:10:00', '2024-05-06 01:10:01', "
        "4401, 'h1', 'satisfied', 'pad-1')",
    ),
    "case_events_local": (
        "event_id, type, source, seq, occurred_at, ingested_at, city_code, case_id, deadline_at",
        "('c1', 'case_opened', 'cases', 1, '2024-05-06 02:00:00', '2024-05-06 02:00:01', "
        "4401, 'case-1', '2024-05-08 09:59:59')",
    ),
    "node_heartbeats_local": (
        "event_id, type, source, seq, occurred_at, ingested_at, city_code, node_id, interval_s",
        "('n1', 'node_heartbeat', 'node-a', 1, '2024-05-06 01:00:00', '2024-05-06 01:00:01', 4401, 'node-a', 30)",
    ),
    "camera_probes_local": (
        "event_id, type, source, seq, occurred_at, ingested_at, city_code, camera_id, node_id, status, reason",
        (
            "('p1', 'camera_probe', 'node-a', 2, '2024-05-06 01:00:00', '2024-05-06 01:00:01', 4401, 'cam-1', 'node-a',"
            " 'unreachable', 'open timed out')"
        ),
    ),
    "rejections_local": (
        "origin, record_index, reason, stream, source, city_code, rejected_at",
        "('gw:b1', 0, 'duplicate', 'queue', 'hall-a', 4401, '2024-05-06 01:00:02')",
    ),
}
_MV_TARGETS = (
    "ticket_facts",
    "evaluation_5m",
    "evaluation_device_1h",
    "ingest_quality_5m",
    "rejections_5m",
    "window_transitions",
    "camera_5m",
    "node_beats_5m",
    "case_steps",
)


def test_the_declustered_cluster_form_runs_and_views_fill_the_local_tables(ch: _ChdbProcess) -> None:
    """Names, columns, view sources and targets of the rewrite fit together.

    Inserts into _local fill every view's target.
    """
    for stmt in PLAN:
        ch.command_sync(_declustered(stmt))
    for table, (columns, rows) in _EVENTS.items():
        ch.command_sync(f"INSERT INTO {DATABASE}.{table} ({columns}) VALUES {rows}")

    def count(table: str) -> int:
        return int(ch.query_sync(f"SELECT count() FROM {DATABASE}.{table}")[0][0])

    for target in _MV_TARGETS:
        assert count(f"{target}_local") > 0, f"no view filled {target}_local"
        assert count(target) == count(f"{target}_local")
    for table in _EVENTS:
        assert count(table.removesuffix("_local")) == count(table)
    # ClickHouse's own view of what the views read: only the _local event tables.
    readers = ch.query_sync(
        f"SELECT name FROM system.tables WHERE database = '{DATABASE}' AND notEmpty(dependencies_table)"
    )
    assert {name for (name,) in readers} == set(_EVENTS)
    # 0005 replaced the ticket view and 0004/0008 added columns, through X as well as X_local.
    assert ch.query_sync(f"SELECT max(window_id) FROM {DATABASE}.ticket_facts WHERE ticket_no = 'A001'") == [("w7",)]
    assert ch.query_sync(f"SELECT reason FROM {DATABASE}.camera_probes") == [("open timed out",)]
    assert ch.query_sync(f"SELECT count() FROM {DATABASE}.case_steps WHERE deadline_at IS NOT NULL") == [(1,)]


# -- synchronous inserts ----------------------------------------------------------------


def test_the_synchronous_insert_setting_exists_under_both_names(ch: _ChdbProcess) -> None:
    """ClickHouse knows distributed_foreground_insert, with insert_distributed_sync as its alias for older servers."""
    rows = ch.query_sync(
        "SELECT name, alias_for FROM system.settings "
        "WHERE name IN ('distributed_foreground_insert', 'insert_distributed_sync')"
    )
    assert sorted(rows) == [
        ("distributed_foreground_insert", ""),
        ("insert_distributed_sync", "distributed_foreground_insert"),
    ]


def test_the_setting_name_follows_the_server_version() -> None:
    """Servers from 23.11 get the current name; older or unknown versions get the name every release knows."""
    assert foreground_insert_setting("24.8.4.13") == "distributed_foreground_insert"
    assert foreground_insert_setting("23.11.1.2711") == "distributed_foreground_insert"
    assert foreground_insert_setting("23.8.16.40") == "insert_distributed_sync"
    assert foreground_insert_setting(None) == "insert_distributed_sync"


class _FakeDriver:
    """Stands in for a clickhouse-connect client: records commands and insert settings."""

    server_version = "24.8.4.13"

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.insert_settings: list[dict[str, Any] | None] = []
        self.database = ""

    def command(self, sql: str) -> None:
        self.commands.append(sql)

    def insert(self, table: str, rows: Any, column_names: list[str], settings: dict[str, Any] | None = None) -> None:
        self.insert_settings.append(settings)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("cluster", "create", "settings"),
    [
        (None, "CREATE DATABASE IF NOT EXISTS govpulse", None),
        ("gp", "CREATE DATABASE IF NOT EXISTS govpulse ON CLUSTER gp", {"distributed_foreground_insert": 1}),
    ],
)
async def test_inserts_are_synchronous_on_a_cluster_only(
    monkeypatch: pytest.MonkeyPatch, cluster: str | None, create: str, settings: dict[str, Any] | None
) -> None:
    """On a cluster the database is created on every node and each insert waits for the shards.

    One node is unchanged.
    """
    driver = _FakeDriver()
    monkeypatch.setattr(client_module.clickhouse_connect, "get_client", lambda dsn, **settings: driver)
    store = ClickHouse("http://clickhouse:8123", "govpulse", cluster=cluster)
    store.open()
    await store.insert("queue_events", [("e1",)], ["event_id"])
    store.close()
    assert driver.commands == [create]
    assert driver.insert_settings == [settings]
