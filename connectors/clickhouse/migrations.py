"""Apply the numbered SQL files in migrations/ once each, safely re-runnable.

Every statement is idempotent (IF NOT EXISTS), so a migration cut off half
way is simply run again; the ledger only saves re-running finished ones.

The files are written for one node. On a cluster each statement runs in its
cluster form (connectors/clickhouse/cluster.py), ledger included.
"""

from __future__ import annotations

from importlib import resources

import structlog

from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.cluster import cluster_statements

log = structlog.get_logger(__name__)

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
) ENGINE = ReplacingMergeTree ORDER BY version
"""


def migration_files() -> list[tuple[int, str, str]]:
    """(version, name, sql) for each migration, in order."""
    folder = resources.files("connectors.clickhouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version = int(entry.name.split("_", 1)[0])
            found.append((version, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def cluster_migration(cluster: str, database: str) -> list[tuple[int, str, list[str]]]:
    """(version, name, statements) of every migration in its cluster form, in order."""
    return [
        (version, name, [out for stmt in statements(sql) for out in cluster_statements(stmt, cluster, database)])
        for version, name, sql in migration_files()
    ]


def ledger_statements(cluster: str, database: str) -> list[str]:
    """The ledger's CREATE in its cluster form: a full copy on every node, so any node knows what was applied."""
    return cluster_statements(_LEDGER, cluster, database)


def migrate(ch: ClickHouse, cluster: str | None = None) -> list[str]:
    """Run pending migrations (ON CLUSTER `cluster` when given); return the names applied now."""
    if cluster is None:
        ledger = [_LEDGER]
        plan = [(version, name, statements(sql)) for version, name, sql in migration_files()]
    else:
        # Rewritten up front: a statement with no cluster form stops the run before anything is applied.
        ledger = ledger_statements(cluster, ch.database)
        plan = cluster_migration(cluster, ch.database)
    for stmt in ledger:
        ch.command_sync(stmt)
    done = {row[0] for row in ch.query_sync("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, stmts in plan:
        if version in done:
            continue
        for stmt in stmts:
            ch.command_sync(stmt)
        ch.command_sync(f"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}')")
        applied.append(name)
        log.info("migration_applied", migration=name)
    return applied
