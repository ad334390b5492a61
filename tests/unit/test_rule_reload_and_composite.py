"""Hot reload of rule files, and composite rules over inline conditions and other rules."""

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation
from streams.metrics import Metrics
from streams.rules.composite_rules import CompositeCheck
from streams.rules.reloader import RuleReloader

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
RULE = """
rules:
  - id: burst
    type: frequency
    title: 差评集中
    severity: warning
    domain: evaluation
    stream: evaluation
    match: {{level: [dissatisfied]}}
    key: staff_id
    count: {count}
    within: 30m
"""


def test_a_valid_change_is_loaded_and_an_invalid_one_keeps_the_old_rules(tmp_path: Path) -> None:
    """Changing count reloads; a typo is refused, counted and reported, and the previous rules stay."""
    path = tmp_path / "evaluation.yaml"
    path.write_text(RULE.format(count=5), encoding="utf-8")
    metrics = Metrics(CollectorRegistry())
    reloader = RuleReloader(tmp_path, metrics)
    assert reloader.load_initial().get("burst").count == 5
    assert reloader.poll() is None  # nothing changed
    path.write_text(RULE.format(count=7), encoding="utf-8")
    assert reloader.poll().get("burst").count == 7
    path.write_text(RULE.format(count=7).replace("within:", "witin:"), encoding="utf-8")
    assert reloader.poll() is None
    assert reloader.status.rules == 1 and any("witin" in e for e in reloader.status.last_error)
    assert metrics.registry.get_sample_value("govpulse_rule_reload_failures_total") == 1


class Fixed:
    """A timer check that reports fixed observations."""

    def __init__(self, rule_id: str, breached_halls: list[str]) -> None:
        self.rule_id = rule_id
        self.halls = breached_halls

    async def evaluate(self, reader: object, now: datetime) -> list[Observation]:
        return [Observation(self.rule_id, {"hall": h}, now, True, False, 1.0) for h in self.halls]


async def test_a_composite_needs_every_condition_for_the_same_group() -> None:
    """Only the hall where both inline conditions hold and the referenced rule fires is reported."""
    book = AlertBook()
    book.register_rule("long_queue", severity="warning")
    book.observe(Observation("long_queue", {"hall": "H2"}, NOW, True, False, 80.0))
    book.observe(Observation("long_queue", {"hall": "H3"}, NOW, True, False, 80.0))
    check = CompositeCheck(
        "idle_in_queue", (Fixed("a", ["H1", "H2", "H3"]), Fixed("b", ["H2", "H4"])), ("long_queue",), book
    )
    found = await check.evaluate(None, NOW)  # type: ignore[arg-type]
    assert [o.group for o in found] == [{"hall": "H2"}]
