"""Apply the numbered SQL files in migrations/ once each, safely re-runnable.

Every statement is idempotent (IF NOT EXISTS), so a migration cut off half
way is simply run again; the ledger only saves re-running finished ones.
"""

from __future__ import annotations

from importlib import resources

import structlog

from connectors.clickhouse.client import ClickHouse

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


def migrate(ch: ClickHouse) -> list[str]:
    """Run pending migrations; return the names applied now."""
    ch.command_sync(_LEDGER)
    done = {row[0] for row in ch.query_sync("SELECT version FROM schema_migrations")}
    applied = []
    for version, name, sql in migration_files():
        if version in done:
            continue
        for stmt in statements(sql):
            ch.command_sync(stmt)
        ch.command_sync(f"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}')")
        applied.append(name)
        log.info("migration_applied", migration=name)
    return applied
