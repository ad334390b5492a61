"""Every stream is complete everywhere: its kinds, their tables, row builders, migrations, cluster, backtest, scopes."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest

from connectors.clickhouse.cluster import SHARDED_TABLES, column_names
from connectors.clickhouse.migrations import migration_files, statements
from connectors.clickhouse.rows import ROW_BUILDERS
from streams import models
from streams.definitions import EVENT_TABLES, KIND_OF, STREAMS, TOPIC_TO_STREAM, StreamName
from streams.indicators.query import ScopeKind
from streams.models.common import EventBase
from streams.registry.generate import generate
from streams.simulator import Simulation
from streams.validation import Validator

_CREATE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)\s*\((.*)\)\s*ENGINE", re.DOTALL)
_ADD_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN IF NOT EXISTS (\w+)")
#: The columns the backtest reads from every event table besides a kind's own rule columns.
_BACKTEST_COLUMNS = ("event_id", "occurred_at", "city_code")


def _migrated_columns() -> dict[str, set[str]]:
    """Every table the migration files create, with its columns once every ALTER ... ADD COLUMN has run."""
    tables: dict[str, set[str]] = {}
    for _, _, sql in migration_files():
        for stmt in statements(sql):
            if created := _CREATE.match(stmt):
                tables[created.group(1)] = set(column_names(created.group(2)))
            elif added := _ADD_COLUMN.match(stmt):
                tables[added.group(1)].add(added.group(2))
    return tables


def _event_models() -> set[type[EventBase]]:
    """Every event model `streams.models` exports."""
    return {m for m in vars(models).values() if isinstance(m, type) and issubclass(m, EventBase) and m is not EventBase}


def test_every_event_model_has_a_kind_and_every_stream_a_name() -> None:
    """No model is left out of the streams, none is in two, and the names the wire accepts are the streams'."""
    kinds = [kind for stream in STREAMS.values() for kind in stream.kinds]
    assert _event_models() == set(KIND_OF)
    assert len(kinds) == len(KIND_OF)
    assert set(get_args(StreamName)) == set(STREAMS)
    assert all(name == stream.name for name, stream in STREAMS.items())
    for stream in STREAMS.values():
        assert stream.kinds, stream.name
        assert stream.models == tuple(kind.model for kind in stream.kinds)
        assert set(stream.kind_of) == set(stream.models)


def test_topics_and_tables_are_unique() -> None:
    """One topic per stream, one raw table per event kind."""
    assert len(TOPIC_TO_STREAM) == len(STREAMS)
    assert all(topic.startswith("raw.") for topic in TOPIC_TO_STREAM)
    assert len(EVENT_TABLES) == len(KIND_OF)


def test_every_kind_is_stored_in_a_migrated_table_through_its_row_builder() -> None:
    """A row builder per kind's table, naming exactly the table's columns; the table is sharded on a cluster."""
    migrated = _migrated_columns()
    assert set(ROW_BUILDERS) == EVENT_TABLES
    for kind in KIND_OF.values():
        assert kind.table in migrated, f"no migration creates {kind.table}"
        columns = ROW_BUILDERS[kind.table].columns
        assert len(set(columns)) == len(columns), kind.table
        assert set(columns) == migrated[kind.table], kind.table
        assert kind.table in SHARDED_TABLES, kind.table


def test_the_backtest_can_read_every_kind_from_its_table() -> None:
    """Each kind's rule columns are columns of its table, and include the type the rules match on."""
    migrated = _migrated_columns()
    for kind in KIND_OF.values():
        assert "type" in kind.rule_columns, kind.table
        assert set(_BACKTEST_COLUMNS + kind.rule_columns) <= migrated[kind.table], kind.table


def test_every_stream_places_its_events_in_known_scopes() -> None:
    """An event rule's scope is one the indicator queries know."""
    known = set(get_args(ScopeKind))
    for stream in STREAMS.values():
        assert stream.scopes, stream.name
        assert set(stream.scopes) <= known, stream.name


@pytest.fixture(scope="module")
def simulated() -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Ten simulated minutes of a working-day morning, batched as nodes send them: by stream, source and sent_at."""
    sim = Simulation(generate(halls=150, seed=1), rate_eps=40, seed=1)
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Beijing, a Monday
    batches: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for step in range(60):
        for stream, source, event in sim.step(start + timedelta(seconds=10 * step), 10.0):
            batches[(stream, source, event["sent_at"])].append(event)
    return batches


def test_a_record_of_every_kind_resolves_against_the_registry(simulated) -> None:
    """Each kind's resolver places simulated records in their sender's city, and rejects none."""
    validator = Validator(generate(halls=150, seed=1))
    resolved: dict[type[EventBase], int] = defaultdict(int)
    for (stream, source, sent_at), events in simulated.items():
        accepted, rejected = validator.validate(STREAMS[stream], source, events, datetime.fromisoformat(sent_at))
        assert not rejected, rejected[0]
        for acc in accepted:
            assert acc.city_code == validator.registry.city_of_source(source)
            resolved[type(acc.event)] += 1
    assert set(resolved) == set(KIND_OF)
