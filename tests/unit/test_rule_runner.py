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
    runner.use(RuleSetup(event_rules=[burst], indicator_checks=[Broken()]))  # type: ignore[list-item]
    events = [(Ev(event_id=f"e{i}", level="dissatisfied", staff_id="S1"), T0, 440100) for i in range(2)]
    await runner.on_events("evaluation", events)
    await runner.tick()
    assert [(n.kind, n.alert.rule_id) for n in out.notices] == [("firing", "burst")]
    assert metrics.registry.get_sample_value("govpulse_rule_errors_total", {"rule": "broken"}) == 1
