"""The rule runner: a failing rule is isolated and counted; the others still raise their alerts."""

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry

from streams.alerts.lifecycle import AlertBook
from streams.metrics import Metrics
from streams.rules.event_rules import FrequencyRule
from streams.rules.runner import RuleRunner, RuleSetup

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


class Collected:
    def __init__(self) -> None:
        self.notices: list = []

    async def publish(self, notices, active) -> None:
        self.notices += notices


class Broken:
    """An indicator check whose query always fails."""

    rule_id = "broken"

    async def evaluate(self, reader: Any, now: datetime) -> list:
        raise RuntimeError("clickhouse said no")


class Ev:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


async def test_a_failing_rule_is_counted_and_the_others_still_fire() -> None:
    """The broken indicator rule is counted in govpulse_rule_errors_total; the frequency rule fires all the same."""
    metrics = Metrics(CollectorRegistry())
    book = AlertBook()
    book.register_rule("burst", severity="warning")
    book.register_rule("broken", severity="warning")
    out = Collected()
    runner = RuleRunner(book, out, reader=None, metrics=metrics, clock=lambda: T0 + timedelta(minutes=1))  # type: ignore[arg-type]
    burst = FrequencyRule("burst", "evaluation", {"level": ["dissatisfied"]}, ("staff_id",), 2, 600)
    runner.use(RuleSetup(event_rules=[burst], indicator_checks=[Broken()]))
    events = [(Ev(event_id=f"e{i}", level="dissatisfied", staff_id="S1"), T0, 440100) for i in range(2)]
    await runner.on_events("evaluation", events)
    await runner.tick()
    assert [(n.kind, n.alert.rule_id) for n in out.notices] == [("firing", "burst")]
    assert metrics.registry.get_sample_value("govpulse_rule_errors_total", {"rule": "broken"}) == 1


class Counting:
    """An indicator check that finds nothing and counts its evaluations."""

    rule_id = "counted"

    def __init__(self) -> None:
        self.calls = 0

    async def evaluate(self, reader: Any, now: datetime) -> list:
        self.calls += 1
        return []


class Ticking(FrequencyRule):
    def __init__(self) -> None:
        super().__init__("ticking", "evaluation", {}, ("staff_id",), 2, 600)
        self.ticks = 0

    def tick(self, now: datetime) -> list:
        self.ticks += 1
        return super().tick(now)


async def test_a_due_indicator_rule_is_evaluated_between_full_rounds() -> None:
    """The timer wakes when an indicator rule falls due and evaluates only that; event windows age on full rounds."""
    book = AlertBook()
    book.register_rule("counted", severity="info")
    book.register_rule("ticking", severity="info")
    runner = RuleRunner(book, Collected(), reader=None, metrics=Metrics(CollectorRegistry()), clock=lambda: T0)  # type: ignore[arg-type]
    check, event_rule = Counting(), Ticking()
    runner.use(RuleSetup(event_rules=[event_rule], indicator_checks=[check], every_s={"counted": 10.0}))
    assert runner.seconds_until_due() == 0.0  # never evaluated: due at once
    await runner.evaluate_due()
    assert (check.calls, event_rule.ticks) == (1, 0)
    assert 9.0 < runner.seconds_until_due() <= 10.0
    await runner.evaluate_due()  # not due again yet
    assert check.calls == 1
    await runner.tick()
    assert event_rule.ticks == 1


def test_without_indicator_rules_nothing_is_ever_due() -> None:
    runner = RuleRunner(AlertBook(), Collected(), reader=None, metrics=Metrics(CollectorRegistry()), clock=lambda: T0)  # type: ignore[arg-type]
    assert runner.seconds_until_due() == float("inf")


async def test_after_a_reload_a_node_heard_again_clears_the_alert_raised_before_it() -> None:
    """A reload builds the absence rule afresh; it adopts the book's open alerts, so the next beat still clears one."""
    from streams.rules.event_rules import AbsenceRule

    book = AlertBook()
    book.register_rule("node_offline", severity="critical")
    now = [T0]
    runner = RuleRunner(book, Collected(), reader=None, metrics=Metrics(CollectorRegistry()), clock=lambda: now[0])  # type: ignore[arg-type]

    def fresh_rule() -> AbsenceRule:
        rule = AbsenceRule("node_offline", "video", {"type": ["node_heartbeat"]}, ("node_id",), 60, 3)
        rule.expect([{"city": "441900", "node": "VN441900"}], since=T0)
        return rule

    runner.use(RuleSetup(event_rules=[fresh_rule()]))
    now[0] = T0 + timedelta(minutes=4)
    await runner.tick()
    assert [a.state for a in book.active()] == ["firing"]
    runner.use(RuleSetup(event_rules=[fresh_rule()]))  # the reload
    beat = Ev(event_id="b1", type="node_heartbeat", node_id="VN441900")
    now[0] = T0 + timedelta(minutes=4, seconds=2)
    await runner.on_events("video", [(beat, now[0], 441900)])
    await runner.tick()
    assert book.active() == []
