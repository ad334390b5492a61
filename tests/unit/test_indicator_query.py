"""Parsing indicator requests: scopes, windows and ranges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.indicators.catalog import INDICATORS
from streams.indicators.query import IndicatorQuery, QueryError, Scope

NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


def test_scopes_parse_and_garbage_is_refused() -> None:
    """Every scope kind parses; an unknown kind, a non-numeric city or an injected quote is refused."""
    assert Scope.parse("province") == Scope("province")
    assert Scope.parse("city:440100") == Scope("city", "440100")
    assert str(Scope.parse("hall:H440106001")) == "hall:H440106001"
    for bad in ("planet:1", "city:guangzhou", "hall:x' OR 1=1 --", "county:", "city:" + "1" * 70):
        with pytest.raises(QueryError):
            Scope.parse(bad)


def test_default_range_is_a_day_or_a_week_of_days() -> None:
    """Without from/to a query covers the last day (the last 7 for daily windows), in UTC."""
    q = IndicatorQuery.build("province", "1h", None, None, NOW)
    assert (q.start, q.end) == (NOW - timedelta(days=1), NOW)
    assert IndicatorQuery.build("province", "1d", None, None, NOW).start == NOW - timedelta(days=7)


def test_ranges_must_be_ordered_zoned_and_bounded() -> None:
    """Naive times, reversed ranges, unknown windows and too many points are refused."""
    with pytest.raises(QueryError, match="zone"):
        IndicatorQuery.build("province", "1h", datetime(2026, 11, 20), NOW, NOW)
    with pytest.raises(QueryError, match="before"):
        IndicatorQuery.build("province", "1h", NOW, NOW - timedelta(hours=1), NOW)
    with pytest.raises(QueryError, match="window"):
        IndicatorQuery.build("province", "2h", None, None, NOW)
    with pytest.raises(QueryError, match="at most"):
        IndicatorQuery.build("province", "5m", NOW - timedelta(days=30), NOW, NOW)


def test_every_indicator_is_defined_in_words() -> None:
    """Each indicator has a family, a Chinese title, a unit and a written definition."""
    for indicator in INDICATORS.values():
        assert indicator.family and indicator.title_zh and indicator.unit
        assert len(indicator.definition) > 30, indicator.name


def test_the_indicator_doc_matches_the_catalogue() -> None:
    """docs/indicators.md is what `govpulse indicators --markdown` prints today."""
    from pathlib import Path

    from streams.indicators.doc import markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "indicators.md"
    assert doc.read_text(encoding="utf-8") == markdown(), "run: govpulse indicators --markdown > docs/indicators.md"


def test_no_indicator_reads_a_raw_event_table() -> None:
    """Every indicator's SQL reads only indicator state tables, never the raw event tables."""
    import re
    from datetime import timedelta

    from connectors.clickhouse.rows import ROW_BUILDERS

    raw = set(ROW_BUILDERS) | {"rejections"}
    for indicator in INDICATORS.values():
        scope = {"source": "source:node-440100"}.get(indicator.scopes[-1], "province")
        q = IndicatorQuery.build(scope, indicator.windows[0], NOW - timedelta(hours=1), NOW, NOW)
        tables = set(re.findall(r"\b(?:FROM|JOIN)\s+([a-z_0-9]+)", indicator.sql(q)))
        assert tables and not tables & raw, (indicator.name, tables & raw)


def test_a_group_must_be_a_known_entity_kind() -> None:
    """group=hall is accepted; an unknown kind is refused with the list of kinds."""
    assert IndicatorQuery.build("city:440100", "1h", None, None, NOW, group="hall").group == "hall"
    with pytest.raises(QueryError, match="group"):
        IndicatorQuery.build("province", "1h", None, None, NOW, group="street")
