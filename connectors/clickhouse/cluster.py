"""The cluster form of a migration statement: replicated, sharded by city, run ON CLUSTER.

A sharded table X becomes X_local (a Replicated*MergeTree per shard) plus X, a
Distributed table over the X_local of every shard, keyed by cityHash64(city_code).
Every copy of an event (ReplacingMergeTree collapses them by city_code, event_id)
and every row of one city's aggregates lands on one shard, so dedup and FINAL stay
shard-local and a per-city query touches one shard. Writers and readers keep using
X; materialized views read and write the _local tables, because a view fires on
the insert into the table it reads, and on a cluster that is X_local on each shard.

A global table keeps its name and is replicated in full to every node: the
dimension tables that queries join locally, the small alert tables, and the
ledgers. Their rows do not belong to a shard (org_halls has a city_code, yet a
shard-local join needs every hall), so which tables are global is a fixed list
rather than read from the columns.

Names are written fully qualified: an ON CLUSTER statement runs again on every
host from the DDL queue, and a qualified name means the same table there whatever
default database the host's DDL worker uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from streams.definitions import EVENT_TABLES

#: Tables with one row set per city, split across shards by city_code: every stream's raw event tables, and these.
SHARDED_TABLES = EVENT_TABLES | frozenset(
    {
        "rejections",
        "ticket_facts",
        "evaluation_5m",
        "evaluation_device_1h",
        "ingest_quality_5m",
        "rejections_5m",
        "window_transitions",
        "camera_5m",
        "node_beats_5m",
        "case_steps",
        # A record's verdicts all carry its city, so they meet on one shard and replace each other there.
        "national_checks",
    }
)
#: Tables copied in full to every node: joined locally, small, or bookkeeping.
GLOBAL_TABLES = frozenset(
    {
        "org_halls",
        "org_cameras",
        "org_depts",
        "topic_generations",
        "alert_notices",
        "alert_actions",
        "manual_values",
        "schema_migrations",
    }
)
SHARDING_KEY = "cityHash64(city_code)"
LOCAL_SUFFIX = "_local"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FLAGS = re.IGNORECASE | re.DOTALL
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*(?=\()", _FLAGS)
_ENGINE = re.compile(r"\s*ENGINE\s*=\s*(\w+)", _FLAGS)
_CREATE_MV = re.compile(r"CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s+(.*)", _FLAGS)
_MV_BODY = re.compile(r"TO\s+(\w+)\s+AS\s+(SELECT\b.*)", _FLAGS)
_ALTER = re.compile(r"ALTER\s+TABLE\s+(\w+)\s+(.*)", _FLAGS)
_COLUMN_ALTER = re.compile(r"(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b", re.IGNORECASE)
_DROP_VIEW = re.compile(r"DROP\s+VIEW\s+(IF\s+EXISTS\s+)?(\w+)\Z", _FLAGS)
_ON_CLUSTER = re.compile(r"\bON\s+CLUSTER\b", re.IGNORECASE)
_SOURCE = re.compile(r"\b(FROM|JOIN)(\s+)([\w.`\"]+)", re.IGNORECASE)
_NOT_COLUMNS = ("INDEX", "PROJECTION", "CONSTRAINT")


class UnknownStatement(ValueError):
    """A migration statement this module has no cluster form for; it must not run as is on a cluster."""

    def __init__(self, stmt: str, why: str) -> None:
        super().__init__(f"no cluster form for this migration statement ({why}):\n{stmt}")
        self.stmt = stmt


def cluster_statements(stmt: str, cluster: str, database: str) -> list[str]:
    """The statements that stand for `stmt` on `cluster`, in the order to run them."""
    for value, what in ((cluster, "cluster"), (database, "database")):
        if not _IDENTIFIER.fullmatch(value):
            raise ValueError(f"{what} name {value!r} is not a plain identifier")
    text = stmt.strip()
    if _ON_CLUSTER.search(text):
        raise UnknownStatement(text, "it already names a cluster; migrations are written for one node")
    for pattern, rewrite in _FORMS:
        match = pattern.match(text)
        if match:
            return rewrite(text, match, cluster, database)
    raise UnknownStatement(
        text, "only CREATE TABLE, CREATE MATERIALIZED VIEW ... TO, ALTER TABLE and DROP VIEW are known"
    )


def column_names(columns: str) -> list[str]:
    """Column names of a CREATE TABLE column list (the text between its outer parentheses)."""
    names = []
    for part in _split_top_level(columns):
        first = part.split(None, 1)[0].strip('`"') if part.strip() else ""
        if first and first.upper() not in _NOT_COLUMNS:
            names.append(first)
    return names


def local_name(table: str) -> str:
    return table + LOCAL_SUFFIX


# -- one rewrite per statement kind ---------------------------------------------------


def _create_table(text: str, match: re.Match[str], cluster: str, database: str) -> list[str]:
    if_not_exists, table = match.group(1), match.group(2)
    columns, after = _balanced(text, match.end())
    engine = _ENGINE.match(after)
    if engine is None:
        raise UnknownStatement(text, "no ENGINE = after the column list")
    name = engine.group(1)
    if not name.endswith("MergeTree") or name.startswith("Replicated"):
        raise UnknownStatement(text, f"engine {name} has no replicated form here (only plain *MergeTree engines do)")
    args, tail = "", after[engine.end() :]
    if tail.startswith("("):
        args, tail = _balanced(tail, 0)
    head = "CREATE TABLE IF NOT EXISTS " if if_not_exists else "CREATE TABLE "
    if table in SHARDED_TABLES:
        if "city_code" not in column_names(columns):
            raise UnknownStatement(text, f"sharded table {table} has no city_code column to shard on")
        local = local_name(table)
        path = f"/clickhouse/tables/{{shard}}/{database}/{local}"
        return [
            f"{head}{database}.{local} ON CLUSTER {cluster} ({columns}) ENGINE = {_replicated(name, path, args)}{tail}",
            (
                f"{head}{database}.{table} ON CLUSTER {cluster} AS {database}.{local} "
                f"ENGINE = Distributed('{cluster}', '{database}', '{local}', {SHARDING_KEY})"
            ),
        ]
    if table in GLOBAL_TABLES:
        path = f"/clickhouse/tables/all/{database}/{table}"
        return [
            f"{head}{database}.{table} ON CLUSTER {cluster} ({columns}) ENGINE = {_replicated(name, path, args)}{tail}"
        ]
    raise UnknownStatement(
        text, f"table {table} is in neither SHARDED_TABLES nor GLOBAL_TABLES; decide where its rows live"
    )


def _create_view(text: str, match: re.Match[str], cluster: str, database: str) -> list[str]:
    if_not_exists, view = match.group(1), match.group(2)
    body = _MV_BODY.fullmatch(match.group(3))
    if body is None:
        raise UnknownStatement(
            text, "a materialized view needs TO <table> AS SELECT; an inner table has no cluster form"
        )
    target, select = body.group(1), body.group(2)
    sources: list[str] = []

    def qualify(source: re.Match[str]) -> str:
        keyword, space, table = source.groups()
        sources.append(table)
        return f"{keyword}{space}{_placed(text, table, database)}"

    select = _SOURCE.sub(qualify, select)
    if not sources:
        raise UnknownStatement(text, "the view's SELECT reads no table")
    if target in SHARDED_TABLES and not any(table in SHARDED_TABLES for table in sources):
        # A view over global tables fires on the one node that took the insert, and would put every city's rows
        # on that node's shard.
        raise UnknownStatement(text, f"view into sharded {target} reads no sharded table")
    head = "CREATE MATERIALIZED VIEW IF NOT EXISTS " if if_not_exists else "CREATE MATERIALIZED VIEW "
    return [f"{head}{database}.{view} ON CLUSTER {cluster} TO {_placed(text, target, database)} AS {select}"]


def _alter(text: str, match: re.Match[str], cluster: str, database: str) -> list[str]:
    table, commands = match.group(1), match.group(2)
    if table in GLOBAL_TABLES:
        return [f"ALTER TABLE {database}.{table} ON CLUSTER {cluster} {commands}"]
    if table not in SHARDED_TABLES:
        raise UnknownStatement(text, f"table {table} is in neither SHARDED_TABLES nor GLOBAL_TABLES")
    if not _COLUMN_ALTER.match(commands):
        # A Distributed table takes column changes only; TTL, ORDER BY or mutations would need the _local table alone.
        raise UnknownStatement(
            text, "only column changes (ADD/DROP/MODIFY/RENAME/COMMENT COLUMN) are known for a sharded table"
        )
    # The shards first: the Distributed table must not offer a column its shards cannot yet return.
    return [
        f"ALTER TABLE {database}.{local_name(table)} ON CLUSTER {cluster} {commands}",
        f"ALTER TABLE {database}.{table} ON CLUSTER {cluster} {commands}",
    ]


def _drop_view(text: str, match: re.Match[str], cluster: str, database: str) -> list[str]:
    if_exists, view = match.group(1), match.group(2)
    head = "DROP VIEW IF EXISTS " if if_exists else "DROP VIEW "
    return [f"{head}{database}.{view} ON CLUSTER {cluster}"]


_Rewrite = Callable[[str, re.Match[str], str, str], list[str]]
_FORMS: tuple[tuple[re.Pattern[str], _Rewrite], ...] = (
    (_CREATE_TABLE, _create_table),
    (_CREATE_MV, _create_view),
    (_ALTER, _alter),
    (_DROP_VIEW, _drop_view),
)


# -- helpers --------------------------------------------------------------------------


def _placed(text: str, table: str, database: str) -> str:
    """Where a view reads or writes `table` on a cluster: its shard-local part, or the global table itself."""
    if table in SHARDED_TABLES:
        return f"{database}.{local_name(table)}"
    if table in GLOBAL_TABLES:
        return f"{database}.{table}"
    raise UnknownStatement(text, f"the view names {table!r}, which is in neither SHARDED_TABLES nor GLOBAL_TABLES")


def _replicated(engine: str, path: str, args: str) -> str:
    extra = f", {args.strip()}" if args.strip() else ""
    return f"Replicated{engine}('{path}', '{{replica}}'{extra})"


def _unquoted(text: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """(index, character, parenthesis depth after it) of every character of `text` from `start` outside quotes."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            if char == quote and text[i - 1] != "\\":
                quote = ""
        elif char in "'`\"":
            quote = char
        else:
            depth += {"(": 1, ")": -1}.get(char, 0)
            yield i, char, depth


def _balanced(text: str, start: int) -> tuple[str, str]:
    """The text inside the parentheses opening at `start`, and what follows the closing one."""
    for i, char, depth in _unquoted(text, start):
        if char == ")" and depth == 0:
            return text[start + 1 : i], text[i + 1 :]
    raise UnknownStatement(text, "unbalanced parentheses")


def _split_top_level(text: str) -> list[str]:
    """`text` split at the commas outside quotes and parentheses."""
    cuts = [i for i, char, depth in _unquoted(text) if char == "," and depth == 0]
    return [text[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(text)], strict=True)]
