"""Indicator threshold rules against a fake reader: hysteresis, minimum denominators, latest window per entity."""

from datetime import UTC, datetime
from typing import Any

from streams.rules.indicator_rules import ThresholdCheck

NOW = datetime(2026, 11, 20, 2, 30, tzinfo=UTC)


class Answers:
    """Stands in for ClickHouse: answers each indicator's grouped query with fixed rows (bucket, entity), value."""

    def __init__(self, by_indicator: dict[str, list[tuple[Any, ...]]]) -> None:
        self.by_indicator = by_indicator

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        for name, rows in self.by_indicator.items():
            if name in sql:
                return rows
        return []


def _rows(*points: tuple[str, str, float]) -> list[tuple[Any, ...]]:
    return [((datetime.fromisoformat(b), entity), value) for b, entity, value in points]


async def test_threshold_with_hysteresis_uses_each_halls_latest_window() -> None:
    """Above 1800 s breaches; between 1200 and 1800 neither breaches nor clears; below 1200 clears."""
    check = ThresholdCheck("long_wait", "wait_p90_s", "5m", "province", "hall", ">", 1800, 1200)
    reader = Answers(
        {
            "called_at": _rows(
                ("2026-11-20T02:20:00+00:00", "H1", 600),
                ("2026-11-20T02:25:00+00:00", "H1", 2400),
                ("2026-11-20T02:25:00+00:00", "H2", 1500),
                ("2026-11-20T02:25:00+00:00", "H3", 900),
            )
        }
    )
    obs = {o.group["hall"]: (o.breached, o.cleared) for o in await check.evaluate(reader, NOW)}
    assert obs == {"H1": (True, False), "H2": (False, False), "H3": (False, True)}


async def test_a_ratio_is_judged_only_above_its_minimum_denominator() -> None:
    """A 50% bad-review rate from 4 evaluations is not judged; from 40 it breaches."""
    check = ThresholdCheck("bad_rate", "bad_review_rate", "1h", "province", "hall", ">", 0.2, 0.1, "evaluations", 20)

    class Reader:
        async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
            b = datetime.fromisoformat("2026-11-20T02:00:00+00:00")
            if "level IN" in sql:
                return [((b, "H1"), 0.5), ((b, "H2"), 0.5)]
            return [((b, "H1"), 4.0), ((b, "H2"), 40.0)]

    obs = await check.evaluate(Reader(), NOW)
    assert [(o.group, o.breached, o.evidence["evaluations"]) for o in obs] == [({"hall": "H2"}, True, 40.0)]
