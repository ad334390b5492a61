"""Spike checks: detectors per entity kept across rounds, arming by points, reads in pages, state saved and carried."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from prometheus_client import CollectorRegistry
from pydantic import TypeAdapter

from agents.services.rules import SPIKE_KEY, RulesEngine
from streams.alerts.lifecycle import AlertBook
from streams.detectors import EwmaDetector, RobustWindowDetector, SeasonalDetector, score_of_z
from streams.indicators.query import MAX_POINTS
from streams.metrics import Metrics
from streams.registry import Registry
from streams.rules import spike_state
from streams.rules.composite_rules import CompositeCheck
from streams.rules.conditions import SpikeCondition
from streams.rules.evaluators import BuildContext
from streams.rules.indicator_configs import CompositeRuleConfig, SpikeRuleConfig
from streams.rules.loader import RuleSet
from streams.rules.runner import RuleRunner
from streams.rules.spike_rules import SpikeCheck, window_start

NOW = datetime(2026, 11, 20, 4, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


def spike(**changes: Any) -> SpikeCondition:
    """An hourly evaluations spike condition with a 7-day window baseline, z 3, armed after 4 points."""
    fields: dict[str, Any] = {
        "type": "spike",
        "indicator": "evaluations",
        "window": "1h",
        "baseline": {"method": "window", "lookback": "7d"},
        "z": 3.0,
        "min_history": 4,
    }
    fields.update(changes)
    return TypeAdapter(SpikeCondition).validate_python({k: v for k, v in fields.items() if v is not None})


def check_of(cond: SpikeCondition, group: str | None = "hall") -> SpikeCheck:
    return SpikeCheck.for_condition("bad_spike", cond, "province", group)


class Series:
    """A reader answering an indicator query with the rows whose window starts in the queried range."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.ranges: list[tuple[datetime, datetime]] = []

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        assert parameters is not None
        start, end = parameters["start"], parameters["end"]
        self.ranges.append((start, end))
        return [r for r in self.rows if start <= (r[0][0] if isinstance(r[0], tuple) else r[0]) < end]


def hourly(entity: str, values: list[float], last: datetime = NOW) -> list[tuple[Any, ...]]:
    """One row per hour, the last in the hour of `last` (the window still filling)."""
    start = window_start(last, "1h") - HOUR * (len(values) - 1)
    return [((start + HOUR * i, entity), v) for i, v in enumerate(values)]


def test_old_baseline_keys_make_the_detectors_they_meant() -> None:
    """ewma → the EWMA detector; window → a robust window of lookback/window points; same_time_of_day → seasonal."""
    ewma = spike(baseline={"method": "ewma", "alpha": 0.2}).detector()
    window = spike().detector()
    seasonal = spike(baseline={"method": "window", "lookback": "7d", "same_time_of_day": True}).detector()
    assert isinstance(ewma, EwmaDetector) and ewma.alpha == 0.2 and ewma.min_points == 4
    assert isinstance(window, RobustWindowDetector) and window.window == 7 * 24 and window.min_points == 4
    assert isinstance(seasonal, SeasonalDetector) and (seasonal.period, seasonal.slot_s, seasonal.per_slot) == (
        "day",
        3600,
        7,
    )
    pooled = spike(window="5m", baseline={"method": "seasonal", "period": "day", "slot": "30m"}).detector()
    assert isinstance(pooled, SeasonalDetector) and (pooled.slot_s, pooled.per_slot, pooled.min_samples) == (
        1800,
        6 * 8,
        6 * 4,
    )
    assert spike().threshold_score == score_of_z(3.0) == 0.5 and spike(z=None, score=0.8).threshold_score == 0.8
    assert spike().clear_score == pytest.approx(score_of_z(1.5))


async def test_a_jump_fires_only_once_armed() -> None:
    """A hall with 6 quiet hours then 30 bad reviews spikes; a hall with only 1 point learned is not armed."""
    check = check_of(spike())
    rows = hourly("H1", [2, 3, 2, 4, 3, 2, 30]) + hourly("H2", [1, 50])
    found = {o.group["hall"]: o for o in await check.evaluate(Series(rows), NOW)}
    h1, h2 = found["H1"], found["H2"]
    assert h1.breached and h1.evidence["points"] == 6 and h1.evidence["detector"] == "robust"
    score = h1.evidence["score"]
    assert h1.evidence["baseline"] == 2.5 and isinstance(score, float) and score > 0.9
    assert not h2.breached and h2.cleared and h2.evidence["score"] == 0.0 and h2.evidence["points"] == 1


async def test_rounds_read_only_new_windows_and_learn_each_once() -> None:
    """The next round reads from the window judged last; a window is learned when a newer one exists, once."""
    rows = hourly("H1", [2, 3, 2, 4, 3, 2, 5])
    reader = Series(rows)
    check = check_of(spike())
    await check.evaluate(reader, NOW)
    assert check.memory.series["H1"].detector.points == 6  # the filling hour is judged, not learned
    rows.append(((window_start(NOW, "1h") + HOUR, "H1"), 3.0))
    reader.ranges.clear()
    later = NOW + HOUR
    found = await check.evaluate(reader, later)
    assert reader.ranges == [(window_start(NOW, "1h"), later)]
    assert check.memory.series["H1"].detector.points == 7 and found[0].evidence["value"] == 3.0
    await check.evaluate(reader, later + timedelta(minutes=5))
    assert check.memory.series["H1"].detector.points == 7


async def test_a_rebuild_reads_the_history_in_pages_of_max_points() -> None:
    """A 5-minute rule with 10 days of history reads it in queries of at most MAX_POINTS windows, and learns it all."""
    cond = spike(window="5m", baseline={"method": "ewma", "alpha": 0.01}, history="10d", min_history=30)
    step = timedelta(minutes=5)
    first = window_start(NOW, "5m") - timedelta(days=10)
    rows: list[tuple[Any, ...]] = [((first + step * i, "H1"), 1.0 + i % 3) for i in range(10 * 288 + 1)]
    reader = Series(rows)
    check = check_of(cond)
    found = await check.evaluate(reader, NOW)
    assert all((end - start) / step <= MAX_POINTS for start, end in reader.ranges) and len(reader.ranges) == 2
    assert reader.ranges[0][0] == first and reader.ranges[-1][1] == NOW
    assert check.memory.series["H1"].detector.points == len(rows) - 1 and not found[0].breached


async def test_direction_min_value_and_hysteresis() -> None:
    """Up ignores a drop; min_value is a floor going up and a ceiling going down; a firing alert holds until half z."""
    quiet = [10, 11, 9, 10, 12, 10, 9, 11]

    async def judge(cond: SpikeCondition, last: float) -> tuple[bool, bool]:
        obs = (await check_of(cond).evaluate(Series(hourly("H1", [*quiet, last])), NOW))[0]
        return obs.breached, obs.cleared

    assert await judge(spike(), 0) == (False, True)
    assert await judge(spike(direction="both"), 0) == (True, False)
    assert await judge(spike(direction="down", min_value=1), 0) == (True, False)
    assert await judge(spike(direction="down", min_value=-1), 0) == (False, True)
    assert await judge(spike(min_value=100), 40) == (False, True)
    assert await judge(spike(min_value=30), 40) == (True, False)
    # Median 10, spread 1.4826: 13 is about 2 spreads, between the clear score (1.5) and the threshold (3).
    assert await judge(spike(), 13) == (False, False)


async def test_factor_is_a_second_test_going_up() -> None:
    """With factor 3 the value must also be 3 times the baseline: 25 over a baseline of 10 scores high, yet no fire."""
    quiet = [10, 11, 9, 10, 12, 10, 9, 11]
    for last, fires in ((25, False), (31, True)):
        cond = spike(factor=3.0, min_value=1)
        obs = (await check_of(cond).evaluate(Series(hourly("H1", [*quiet, last])), NOW))[0]
        assert obs.breached is fires


async def test_state_saved_restored_and_carried_only_under_the_same_settings() -> None:
    """A restored check judges as the one saved; other settings rebuild; a reload keeps an unchanged rule's memory."""
    rows = hourly("H1", [2, 3, 2, 4, 3, 2, 30])
    saved_check = check_of(spike())
    before = await saved_check.evaluate(Series(rows), NOW)
    assert spike_state.changed([saved_check])
    data = json.loads(json.dumps(spike_state.snapshot([saved_check])))
    assert not spike_state.changed([saved_check])

    same, other = check_of(spike(z=4.0)), check_of(spike(min_history=5))
    assert spike_state.restore([same, other], data) == ["bad_spike"]
    reader = Series(rows)
    after = await same.evaluate(reader, NOW)
    assert reader.ranges == [(window_start(NOW, "1h"), NOW)]  # nothing rebuilt
    assert after[0].evidence["score"] == before[0].evidence["score"] and other.memory.series == {}

    reloaded, changed_baseline = check_of(spike(z=5.0)), check_of(spike(baseline={"method": "ewma", "alpha": 0.1}))
    assert spike_state.carry([saved_check], [reloaded]) == ["bad_spike"] and reloaded.memory is saved_check.memory
    assert spike_state.carry([saved_check], [changed_baseline]) == []


async def test_entities_are_bounded_least_recently_seen_first() -> None:
    """Past its capacity a check drops the entity it saw longest ago."""
    check = check_of(spike())
    check.memory.capacity = 2
    for hall in ("H1", "H2", "H1", "H3"):
        check.memory.entity(hall)
    assert list(check.memory.series) == ["H1", "H3"]


def test_a_composites_inline_spike_keeps_state_under_its_place() -> None:
    """An inline spike condition's state is keyed by the composite's id and its place in `all`."""
    threshold = {"type": "threshold", "indicator": "evaluations", "window": "1h", "op": ">", "threshold": 5}
    composite = CompositeRuleConfig.model_validate(
        {
            "id": "busy_and_spiking",
            "type": "composite",
            "title": "t",
            "severity": "info",
            "domain": "evaluation",
            "group_by": ["hall"],
            "all": [threshold, spike().model_dump(mode="json", exclude_none=True)],
        }
    )
    built = CompositeCheck.from_config(composite, BuildContext(Registry(), AlertBook(), NOW)).check
    assert [c.key for c in spike_state.spike_checks([built])] == ["busy_and_spiking.all.1"]


class FakeRedis:
    def __init__(self) -> None:
        self.data: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.data.get(key)

    async def set(self, key: str, value: str) -> None:
        self.data[key] = value


def engine_with(redis: FakeRedis, rules: RuleSet) -> RulesEngine:
    """A rules engine using the rules, its outputs and ClickHouse unused; Redis is the fake."""
    metrics = Metrics(CollectorRegistry())
    unused: Any = None
    engine = RulesEngine(
        unused, Registry(), AlertBook(), metrics, unused, cast(Any, SimpleNamespace(client=redis)), unused, unused
    )
    engine._runner = RuleRunner(engine.book, unused, unused, metrics)
    engine.use(rules)
    return engine


def spike_rule(**changes: Any) -> RuleSet:
    base = spike().model_dump(mode="json", exclude_none=True)
    fields = {"id": "bad_spike", "title": "差评突增", "severity": "info", "domain": "evaluation", "group_by": ["hall"]}
    return RuleSet((SpikeRuleConfig.model_validate({**base, **fields, **changes}),))


async def test_the_engine_saves_learned_state_keeps_it_on_reload_and_restores_it() -> None:
    """Saved to Redis only once something was learned; a reload changing z keeps it; a new engine restores it."""
    redis = FakeRedis()
    first = engine_with(redis, spike_rule())
    await first.save_spike_state()
    assert SPIKE_KEY not in redis.data
    (check,) = spike_state.spike_checks(first.runner.setup.indicator_checks)
    await check.evaluate(Series(hourly("H1", [2, 3, 2, 4, 3, 2, 30])), NOW)
    await first.save_spike_state()
    assert SPIKE_KEY in redis.data
    first.use(spike_rule(z=4.0))
    (reloaded,) = spike_state.spike_checks(first.runner.setup.indicator_checks)
    assert reloaded is not check and reloaded.memory is check.memory

    second = engine_with(redis, spike_rule())
    await second._restore_spike_state()
    (restored,) = spike_state.spike_checks(second.runner.setup.indicator_checks)
    assert restored.memory.series["H1"].detector.points == 6


async def test_a_backtest_says_how_many_series_each_spike_rule_could_judge(tmp_path) -> None:
    """A rule that fired nothing over a range where it was never armed said nothing: the report tells the two apart."""
    from streams.rules.backtest import backtest
    from streams.rules.loader import load_rules

    (tmp_path / "spike.yaml").write_text(
        "rules:\n"
        "  - id: review_spike\n"
        "    type: spike\n"
        "    title: 评价量突增\n"
        "    severity: info\n"
        "    domain: evaluation\n"
        "    indicator: evaluations\n"
        "    window: 1h\n"
        "    group_by: [hall]\n"
        "    baseline: {method: window, lookback: 7d}\n"
        "    z: 3\n"
        "    min_history: 4\n",
        encoding="utf-8",
    )
    # H1 has a week of quiet hours before the range, H2 two hours only: both stay quiet during it.
    start = window_start(NOW, "1h") - 3 * HOUR
    rows = hourly("H1", [2.0 + (i % 3) for i in range(7 * 24)]) + hourly("H2", [2.0, 3.0, 2.0])
    report = await backtest(load_rules(tmp_path), Series(rows), Registry(), start, NOW)
    assert report.episodes == []
    [coverage] = report.spikes
    assert (coverage.key, coverage.series, coverage.armed) == ("review_spike", 2, 1)
