"""Composite scores: loading and checking scorecard trees, normalizing, rolling up, missing data and ranks."""

from __future__ import annotations

import asyncio
import copy
import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.indicators.catalog import INDICATORS
from streams.indicators.scorecard import ScorecardError, load_scorecard, parse_scorecard, score
from streams.indicators.scoring import MAX_PERIOD_DAYS, Period, ScoringError, entities, parse_period, period_value, rank
from streams.registry.generate import generate

SHIPPED = Path(__file__).resolve().parents[2] / "alert_rules" / "scorecards" / "province.yaml"

# 效率 0.6 = wait_p90_s 0.5 (min_max) + walkout_rate 0.5 (target 0 … 0.2);
# 质量 0.4 = satisfaction_rate 0.7 (min_max) + active_evaluation_rate 0.3 (target 1.0 … 0.5).
TINY: dict[str, Any] = {
    "name": "tiny",
    "title": "测试",
    "levels": ["city"],
    "dimensions": [
        {
            "name": "效率",
            "weight": 0.6,
            "children": [
                {"indicator": "wait_p90_s", "weight": 0.5, "direction": "lower_better", "normalization": "min_max"},
                {
                    "indicator": "walkout_rate",
                    "weight": 0.5,
                    "direction": "lower_better",
                    "normalization": "target",
                    "best": 0.0,
                    "worst": 0.2,
                },
            ],
        },
        {
            "name": "质量",
            "weight": 0.4,
            "children": [
                {
                    "indicator": "satisfaction_rate",
                    "weight": 0.7,
                    "direction": "higher_better",
                    "normalization": "min_max",
                },
                {
                    "indicator": "active_evaluation_rate",
                    "weight": 0.3,
                    "direction": "higher_better",
                    "normalization": "target",
                    "best": 1.0,
                    "worst": 0.5,
                },
            ],
        },
    ],
}

VALUES: dict[str, dict[str, float | None]] = {
    "A": {"wait_p90_s": 600, "walkout_rate": 0.05, "satisfaction_rate": 0.98, "active_evaluation_rate": 0.9},
    "B": {"wait_p90_s": 1200, "walkout_rate": 0.10, "satisfaction_rate": 0.96, "active_evaluation_rate": 0.6},
    "C": {"wait_p90_s": 900, "walkout_rate": 0.25, "satisfaction_rate": 1.00, "active_evaluation_rate": 0.4},
}


def _tiny() -> Any:
    return parse_scorecard(copy.deepcopy(TINY), "tiny.yaml")


def _by_id(results: list[Any]) -> dict[str, Any]:
    return {r.entity_id: r for r in results}


def _with(
    values: dict[str, dict[str, float | None]], entity: str, **changes: float | None
) -> dict[str, dict[str, float | None]]:
    out = copy.deepcopy(values)
    out[entity].update(changes)
    return out


# -- the shipped tree --------------------------------------------------------------------


def test_the_shipped_province_tree_loads_and_its_weights_add_up() -> None:
    """province.yaml ranks cities on three dimensions; every leaf is a catalogue indicator; leaf weights sum to 1."""
    card = load_scorecard(SHIPPED)
    assert card.levels == ("city",)
    assert [d.label for d in card.dimensions] == ["服务效率", "服务质量", "数据质量"]
    leaves = card.leaves()
    assert all(leaf.node.indicator in INDICATORS for leaf in leaves)
    assert all(leaf.path.count("/") == 2 for leaf in leaves), "three levels: dimension/sub-dimension/leaf"
    assert math.isclose(math.fsum(leaf.global_weight for leaf in leaves), 1.0)
    assert {"wait_p90_s", "satisfaction_rate", "ingest_lag_p95_s"} <= set(card.indicators())
    tree = card.describe()
    assert tree["dimensions"][0]["children"][0]["children"][0]["indicator"] == "wait_p90_s"


# -- validation errors name the file and the node -----------------------------------------


def _dim(card: dict[str, Any], name: str) -> dict[str, Any]:
    return next(d for d in card["dimensions"] if d["name"] == name)


def _leaf(card: dict[str, Any], indicator: str) -> dict[str, Any]:
    return next(c for d in card["dimensions"] for c in d["children"] if c.get("indicator") == indicator)


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("sibling weights", lambda c: _leaf(c, "walkout_rate").update(weight=0.4), "效率", "sum to 0.9"),
    ("dimension weights", lambda c: _dim(c, "质量").update(weight=0.3), "dimensions", "sum to 0.9"),
    (
        "unknown indicator",
        lambda c: _leaf(c, "wait_p90_s").update(indicator="wait_p99_s"),
        "效率/wait_p99_s",
        "unknown indicator",
    ),
    (
        "scope for the level",
        lambda c: c.update(levels=["city", "dept"]) or _leaf(c, "wait_p90_s").update(indicator="ingest_lag_p95_s"),
        "效率/ingest_lag_p95_s",
        "no dept scope",
    ),
    (
        "bad direction",
        lambda c: _leaf(c, "wait_p90_s").update(direction="down"),
        "效率/wait_p90_s: direction",
        "higher_better",
    ),
    ("missing direction", lambda c: _leaf(c, "wait_p90_s").pop("direction"), "效率/wait_p90_s", "direction: required"),
    (
        "bad normalization",
        lambda c: _leaf(c, "wait_p90_s").update(normalization="z_score"),
        "效率/wait_p90_s: normalization",
        "min_max",
    ),
    (
        "target without worst",
        lambda c: _leaf(c, "walkout_rate").pop("worst"),
        "效率/walkout_rate",
        "needs both best and worst",
    ),
    (
        "target bounds reversed",
        lambda c: _leaf(c, "walkout_rate").update(best=0.2, worst=0.0),
        "效率/walkout_rate",
        "best below worst",
    ),
    (
        "bounds on min_max",
        lambda c: _leaf(c, "wait_p90_s").update(best=0),
        "效率/wait_p90_s",
        "only apply to normalization target",
    ),
    ("extra key", lambda c: _leaf(c, "wait_p90_s").update(colour="red"), "效率/wait_p90_s: colour", "Extra inputs"),
    (
        "children and indicator",
        lambda c: _dim(c, "质量").update(indicator="evaluations"),
        "质量",
        "both children and an indicator",
    ),
    ("neither", lambda c: _dim(c, "质量").pop("children"), "质量", "either children or an indicator"),
    (
        "leaf field on a dimension",
        lambda c: _dim(c, "质量").update(direction="higher_better"),
        "质量",
        "only applies to a leaf",
    ),
    (
        "grouped indicator",
        lambda c: _leaf(c, "wait_p90_s").update(indicator="rejected_share"),
        "效率/rejected_share",
        "per reason",
    ),
    ("zero weight", lambda c: _leaf(c, "wait_p90_s").update(weight=0), "效率/wait_p90_s", "weight must be above 0"),
    (
        "duplicate sibling",
        lambda c: _leaf(c, "walkout_rate").update(indicator="wait_p90_s"),
        "效率/wait_p90_s",
        "two siblings",
    ),
    ("quoted weight", lambda c: _leaf(c, "wait_p90_s").update(weight="0.5"), "效率/wait_p90_s: weight", "valid number"),
    ("unknown level", lambda c: c.update(levels=["county"]), "levels.0", "'city' or 'dept'"),
]


@pytest.mark.parametrize(("case", "breaks", "where", "why"), BROKEN, ids=[b[0] for b in BROKEN])
def test_every_error_names_the_file_the_node_and_the_reason(
    tmp_path: Path, case: str, breaks: Callable[[dict[str, Any]], None], where: str, why: str
) -> None:
    """A broken tree is refused with 'file: node/path: reason'."""
    card = copy.deepcopy(TINY)
    breaks(card)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ScorecardError) as caught:
        load_scorecard(path)
    message = str(caught.value)
    assert message.startswith(f"tiny.yaml: {where}"), message
    assert why in message, message


def test_unreadable_and_non_yaml_files_are_refused(tmp_path: Path) -> None:
    """A missing file or broken YAML still names the file."""
    with pytest.raises(ScorecardError, match=r"^absent\.yaml: cannot be read"):
        load_scorecard(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("dimensions: [\n", encoding="utf-8")
    with pytest.raises(ScorecardError, match=r"^bad\.yaml: not valid YAML"):
        load_scorecard(bad)


# -- normalization and roll-up, by hand ------------------------------------------------------


def test_normalization_and_roll_up_by_hand() -> None:
    """Leaf scores, dimension scores and totals match a hand computation; ranks follow the totals."""
    results = score(_tiny(), VALUES)
    by = _by_id(results)
    # wait_p90_s, min_max lower_better over 600…1200: A 100, B 0, C (1200-900)/600 = 50.
    # walkout_rate, target 0 (best) … 0.2 (worst): A (0.2-0.05)/0.2 = 75, B 50, C 0.25 is past worst → 0.
    # satisfaction_rate, min_max higher_better over 0.96…1.00: A 50, B 0, C 100.
    # active_evaluation_rate, target 1.0 … 0.5: A (0.9-0.5)/0.5 = 80, B 20, C 0.4 is past worst → 0.
    expected_leaves = {
        "A": (100, 75, 50, 80),
        "B": (0, 50, 0, 20),
        "C": (50, 0, 100, 0),
    }
    for entity, (wait, walkout, sat, active) in expected_leaves.items():
        nodes = by[entity].nodes
        assert nodes["效率/wait_p90_s"] == pytest.approx(wait)
        assert nodes["效率/walkout_rate"] == pytest.approx(walkout)
        assert nodes["质量/satisfaction_rate"] == pytest.approx(sat)
        assert nodes["质量/active_evaluation_rate"] == pytest.approx(active)
        efficiency = 0.5 * wait + 0.5 * walkout
        quality = 0.7 * sat + 0.3 * active
        assert by[entity].dimensions == {"效率": pytest.approx(efficiency), "质量": pytest.approx(quality)}
        assert by[entity].total == pytest.approx(0.6 * efficiency + 0.4 * quality)
        assert by[entity].missing == [] and by[entity].weight_covered == pytest.approx(1.0)
    # A: 0.6 * 87.5 + 0.4 * 59 = 76.1; B: 0.6 * 25 + 0.4 * 6 = 17.4; C: 0.6 * 25 + 0.4 * 70 = 43.
    assert [(r.entity_id, r.rank, round(r.total, 6)) for r in results] == [
        ("A", 1, 76.1),
        ("C", 2, 43.0),
        ("B", 3, 17.4),
    ]


def test_min_max_without_spread_gives_everyone_full_marks() -> None:
    """When every entity has the same value nobody is behind: all get 100 on that leaf."""
    values = {e: {**v, "wait_p90_s": 900} for e, v in VALUES.items()}
    assert {r.nodes["效率/wait_p90_s"] for r in score(_tiny(), values)} == {100.0}


# -- missing values ------------------------------------------------------------------------


def test_a_missing_leaf_shares_its_weight_with_its_siblings() -> None:
    """C without walkout_rate: 效率 is its wait score alone (50), not a mean with a zero; the leaf is listed."""
    c = _by_id(score(_tiny(), _with(VALUES, "C", walkout_rate=None)))["C"]
    assert c.nodes["效率/walkout_rate"] is None
    assert c.dimensions["效率"] == pytest.approx(50)
    assert c.total == pytest.approx(0.6 * 50 + 0.4 * 70)
    assert c.missing == ["效率/walkout_rate"]
    assert c.weight_covered == pytest.approx(1 - 0.6 * 0.5)


def test_a_dimension_without_any_data_drops_out_of_the_total() -> None:
    """B without both quality leaves: 质量 is None and the total is its efficiency score (25)."""
    b = _by_id(score(_tiny(), _with(VALUES, "B", satisfaction_rate=None, active_evaluation_rate=float("nan"))))["B"]
    assert b.dimensions == {"效率": pytest.approx(25), "质量": None}
    assert b.total == pytest.approx(25)
    assert b.missing == ["质量/satisfaction_rate", "质量/active_evaluation_rate"]
    assert b.weight_covered == pytest.approx(0.6)


def test_a_missing_value_is_not_a_zero_in_min_max_either() -> None:
    """Without B's wait the min_max range is A's 600 to C's 900: A 100, C 0."""
    by = _by_id(score(_tiny(), _with(VALUES, "B", wait_p90_s=None)))
    assert by["A"].nodes["效率/wait_p90_s"] == pytest.approx(100)
    assert by["C"].nodes["效率/wait_p90_s"] == pytest.approx(0)


def test_an_entity_without_any_data_is_listed_last_without_a_score_or_rank() -> None:
    """D has nothing (an empty dict, as when a city sent nothing): no total, no rank, every leaf missing."""
    results = score(_tiny(), {**VALUES, "D": {}})
    last = results[-1]
    assert (last.entity_id, last.total, last.rank, last.weight_covered) == ("D", None, None, 0.0)
    assert len(last.missing) == 4
    assert [r.rank for r in results[:3]] == [1, 2, 3]


# -- ties ---------------------------------------------------------------------------------


def test_equal_totals_share_a_rank_and_the_next_rank_skips() -> None:
    """A and A2 with the same values both rank 1; the next entity ranks 3 (competition ranking)."""
    results = score(_tiny(), {**VALUES, "A2": dict(VALUES["A"])})
    assert [(r.entity_id, r.rank) for r in results] == [("A", 1), ("A2", 1), ("C", 3), ("B", 4)]


# -- the period and the glue ------------------------------------------------------------------


TODAY = date(2026, 11, 21)


def test_periods_default_to_yesterday_and_bad_ones_say_why() -> None:
    """No day means yesterday; a day, or from/to inclusive; garbage, the future and over-long ranges are refused."""
    assert parse_period(None, None, None, TODAY) == Period(date(2026, 11, 20), date(2026, 11, 20))
    assert parse_period("2026-11-19", None, None, TODAY).days == 1
    week = parse_period(None, "2026-11-14", "2026-11-20", TODAY)
    assert week.days == 7 and week.describe()["start"] == "2026-11-14T00:00:00+08:00"
    for args, why in [
        (("2026-13-01", None, None), "not a date"),
        (("2026-11-22", None, None), "future"),
        ((None, "2026-11-20", None), "together"),
        (("2026-11-20", "2026-11-19", "2026-11-20"), "either"),
        ((None, "2026-11-20", "2026-11-19"), "after"),
        ((None, (TODAY - timedelta(days=MAX_PERIOD_DAYS)).isoformat(), TODAY.isoformat()), "at most"),
    ]:
        with pytest.raises(ScoringError, match=why):
            parse_period(*args, TODAY)


def test_a_period_is_the_mean_of_the_days_with_data() -> None:
    """Days without a value are skipped, not counted as zero."""
    assert period_value([{"value": 1.0}, {"value": None}, {"value": 3.0}]) == 2.0
    assert period_value([]) is None


class FakeReader:
    """Answers every indicator query with three days: 1.0, 3.0 and a day without a value."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.in_flight = self.most_in_flight = 0

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        self.calls.append(parameters or {})
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await asyncio.sleep(0)
        self.in_flight -= 1
        day = datetime(2026, 11, 17, 16, tzinfo=UTC)
        return [(day, 1.0), (day + timedelta(days=1), 3.0), (day + timedelta(days=2), None)]


async def test_ranking_queries_each_city_and_leaf_once_with_bounded_concurrency() -> None:
    """21 cities × the leaves' indicators, one 1d query each over the local days, at most `concurrency` at once."""
    registry = generate(halls=143)
    reader = FakeReader()
    period = Period(date(2026, 11, 18), date(2026, 11, 20))
    ranking = await rank(
        reader, registry, _tiny(), "city", period, datetime(2026, 11, 21, 2, tzinfo=UTC), concurrency=3
    )
    assert len(reader.calls) == 21 * 4 and reader.most_in_flight <= 3
    assert {c["start"] for c in reader.calls} == {datetime(2026, 11, 17, 16, tzinfo=UTC)}
    assert {c["end"] for c in reader.calls} == {datetime(2026, 11, 20, 16, tzinfo=UTC)}
    assert {c["scope_value"] for c in reader.calls} == {str(c.code) for c in registry.cities()}
    assert all(v == 2.0 for city in ranking.values.values() for v in city.values())
    body = ranking.to_json()
    assert body["ranked"] == 21 and body["period"]["days"] == 3 and body["ranking"][0]["name"]


def test_department_levels_pick_city_counterparts_or_provincial_departments() -> None:
    """dept with a city: that city's counterparts; without: the provincial departments."""
    registry = generate(halls=143)
    local = entities(registry, "dept", 440700)
    assert local and all(e.entity_id.startswith("D440700-") and e.scope == f"dept:{e.entity_id}" for e in local)
    provincial = entities(registry, "dept")
    assert len(provincial) == 54 and all(e.entity_id.startswith("D440000-") for e in provincial)
    with pytest.raises(ScoringError, match="not in the registry"):
        entities(registry, "dept", 449900)


async def test_a_scorecard_ranks_only_its_levels() -> None:
    """Asking the city-only tree for departments is refused before any query."""
    reader = FakeReader()
    with pytest.raises(ScoringError, match="ranks city, not 'dept'"):
        await rank(reader, generate(halls=143), _tiny(), "dept", Period(TODAY, TODAY), datetime.now(UTC))
    assert reader.calls == []
