"""Formula indicators computed in chDB from their operands' SQL: values, missing rows, division by 0, grouping,
the indicator list, and the Grafana query `govpulse indicators NAME --sql` prints.

The test writes one hand-made morning of a city straight into the stored tables (the pipeline is tested
elsewhere) and compares each formula with its operands, both read through `service.run`. Times from the
script's `day` (which starts at 16:00 local, so "10:00" is 02:00 at night; see `morning`):

- 10:00-11:00: hall 1 issues two tickets at 10:00, called 10:10 and 10:20, served 20 min each; evaluations:
  hall 1 one 不满意 and two 满意, hall 2 one 非常不满意;
- 11:00-12:00: hall 1 two 满意 evaluations, no ticket served;
- 12:00-13:00: hall 2 one ticket issued 12:00, called 12:05, served until 12:20; no evaluation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.clickhouse.rows import ROW_BUILDERS
from streams.indicators.catalog import INDICATORS
from streams.indicators.defined_loader import read_defined
from streams.indicators.installed import BUILT_INS, install, installed
from streams.indicators.panel_sql import panel_query, panel_sql
from streams.indicators.query import IndicatorQuery
from streams.indicators.service import run
from streams.workdays import SHANGHAI
from tests.integration.center import add_user, signed_in
from tests.integration.cities import SHARED_CITY
from tests.integration.grafana_macros import QueryContext, TimeRange, expand

pytestmark = pytest.mark.integration
SHIPPED = Path(__file__).resolve().parents[2] / "alert_rules" / "indicators"
TEST_INDICATORS = """
indicators:
  - {name: t_coverage_null, kind: formula, title_zh: 覆盖, unit: ratio, direction: higher_better,
     expression: evaluations / tickets_served, scopes: [province, city, hall], windows: [1h], definition: test}
  - {name: t_coverage_zero, kind: formula, title_zh: 覆盖, unit: ratio, direction: higher_better,
     expression: evaluations / tickets_served, scopes: [province, city, hall], windows: [1h],
     empty_denominator: zero, definition: test}
  - {name: t_satisfied_served, kind: formula, title_zh: 满意办结, unit: tickets, direction: higher_better,
     expression: satisfaction_rate * tickets_served, scopes: [province, city, hall], windows: [1h], definition: test}
"""


@pytest.fixture(scope="module")
def morning(stack) -> dict[str, Any]:
    """The city, its two halls and the day, with the morning written into ClickHouse.

    Every city but the shared one is held by a test of its own, so the script goes to the shared city, in hours no
    other test writes: halls the other tests do not read (its third and fourth), and a `day` that starts at 16:00
    six days back, so that the script's "10:00" to "13:00" fall at 02:00 to 05:00 local, five nights back.
    """
    city = SHARED_CITY
    h1, h2 = stack.registry.halls_in_city(city)[2:4]
    midnight = (datetime.now(SHANGHAI) - timedelta(days=5)).replace(hour=0, minute=0, second=0, microsecond=0)
    day = midnight - timedelta(hours=8)
    return {"city": city, "h1": h1.hall_id, "h2": h2.hall_id, "day": day, "halls": (h1, h2)}


@pytest.fixture(scope="module")
async def written(stack, morning) -> dict[str, Any]:
    city, (h1, h2), day = morning["city"], morning["halls"], morning["day"]
    run_id = f"{datetime.now(UTC).timestamp():.0f}"
    seq = iter(range(1, 1000))

    def at(hhmm: str) -> datetime:
        h, m = (int(x) for x in hhmm.split(":"))
        return (day + timedelta(hours=h, minutes=m)).astimezone(UTC)

    def ticket(hall, no: str, kind: str, when: str) -> tuple:
        n, t = next(seq), at(when)
        window = f"{hall.hall_id}-W01"
        return (
            f"defined-{run_id}-{n}",
            kind,
            f"node-{city}",
            n,
            t,
            t,
            None,
            t,
            city,
            hall.county_code,
            hall.hall_id,
            no,
            "",
            "",
            window,
            "",
            "",
            False,
            "raw.queue",
            1,
            0,
            n,
        )

    def evaluation(hall, level: str, when: str) -> tuple:
        n, t = next(seq), at(when)
        return (
            f"defined-{run_id}-{n}",
            "evaluation",
            f"node-{city}",
            n,
            t,
            t,
            None,
            t,
            city,
            hall.county_code,
            f"BJ{run_id}{n}",
            "",
            "",
            level,
            "hall_pad",
            "active",
            hall.hall_id,
            "",
            "",
            "",
            [],
            "",
            "a" * 64,
            "raw.evaluation",
            1,
            0,
            n,
        )

    queue = []
    for no, called, done in (("A001", "10:10", "10:30"), ("A002", "10:20", "10:40")):
        queue += [ticket(h1, no, "ticket_issued", "10:00"), ticket(h1, no, "ticket_called", called)]
        queue += [ticket(h1, no, "service_started", called), ticket(h1, no, "service_completed", done)]
    queue += [ticket(h2, "B001", "ticket_issued", "12:00"), ticket(h2, "B001", "ticket_called", "12:05")]
    queue += [ticket(h2, "B001", "service_started", "12:05"), ticket(h2, "B001", "service_completed", "12:20")]
    evals = [
        evaluation(h1, "dissatisfied", "10:31"),
        evaluation(h1, "satisfied", "10:32"),
        evaluation(h1, "satisfied", "10:41"),
        evaluation(h2, "very_dissatisfied", "10:50"),
        evaluation(h1, "satisfied", "11:15"),
        evaluation(h1, "satisfied", "11:45"),
    ]
    await stack.ch.insert("queue_events", queue, ROW_BUILDERS["queue_events"].columns)
    await stack.ch.insert("evaluations", evals, ROW_BUILDERS["evaluations"].columns)
    return morning


@pytest.fixture
def with_test_indicators(tmp_path: Path) -> Iterator[None]:
    """The shipped indicators and the test's, installed; the catalogue put back afterwards."""
    previous = installed()
    (tmp_path / "shipped.yaml").write_text(SHIPPED.joinpath("province.yaml").read_text(encoding="utf-8"))
    (tmp_path / "test.yaml").write_text(TEST_INDICATORS, encoding="utf-8")
    defined, errors = read_defined(tmp_path, BUILT_INS)
    assert errors == []
    install(defined)
    yield
    install(previous)


async def _series(stack, name: str, q: IndicatorQuery) -> dict[Any, float | None]:
    answer = await run(stack.ch, name, q)
    return {(p["bucket"], p.get(q.group or "", "")): p["value"] for p in answer["points"]}


async def _many(stack, q: IndicatorQuery, *names: str) -> list[dict[Any, float | None]]:
    return [await _series(stack, name, q) for name in names]


def _utc(t: datetime) -> str:
    return (t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)).isoformat()


def _hour(day: datetime, h: int) -> str:
    return (day + timedelta(hours=h)).astimezone(UTC).isoformat()


def _query(morning: dict[str, Any], scope: str, group: str | None = None) -> IndicatorQuery:
    day = morning["day"]
    return IndicatorQuery.build(scope, "1h", day, day + timedelta(days=1), datetime.now(UTC), group)


async def test_a_formula_equals_its_operands_combined(stack, written) -> None:
    """bad_reviews is bad_review_rate times evaluations; wait_to_service_ratio is wait p50 over service p50."""
    q = _query(written, f"city:{written['city']}")
    rate, evaluations, bad = await _many(stack, q, "bad_review_rate", "evaluations", "bad_reviews")
    assert set(bad) == set(evaluations) and bad
    for key, value in bad.items():
        assert value == pytest.approx(rate[key] * evaluations[key])
    day = written["day"]
    assert bad[(_hour(day, 10), "")] == pytest.approx(2) and bad[(_hour(day, 11), "")] == pytest.approx(0)

    wait, service, ratio = await _many(stack, q, "wait_p50_s", "service_p50_s", "wait_to_service_ratio")
    assert ratio == {key: pytest.approx(wait[key] / service[key]) for key in ratio}
    assert ratio[(_hour(day, 10), "")] == pytest.approx(900 / 1200)
    assert ratio[(_hour(day, 12), "")] == pytest.approx(300 / 900)


async def test_grouped_queries_keep_each_entity(stack, written) -> None:
    """Grouped by hall, each hall's formula value comes from that hall's operand values."""
    q = _query(written, f"city:{written['city']}", "hall")
    bad, rate, evaluations = await _many(stack, q, "bad_reviews", "bad_review_rate", "evaluations")
    ten = _hour(written["day"], 10)
    assert bad[(ten, written["h1"])] == pytest.approx(1) and bad[(ten, written["h2"])] == pytest.approx(1)
    assert bad == {key: pytest.approx(rate[key] * evaluations[key]) for key in bad}


async def test_missing_rows_and_division_by_zero(stack, written, with_test_indicators) -> None:
    """A count with no row is 0, a ratio with no row is NULL; a division by 0 is NULL, or 0 with zero."""
    q = _query(written, f"city:{written['city']}")
    day = written["day"]
    ten, eleven, noon = (_hour(day, h) for h in (10, 11, 12))
    null = await _series(stack, "t_coverage_null", q)
    zero = await _series(stack, "t_coverage_zero", q)
    served = await _series(stack, "t_satisfied_served", q)
    assert null == {(ten, ""): pytest.approx(2), (eleven, ""): None, (noon, ""): pytest.approx(0)}
    assert zero == {(ten, ""): pytest.approx(2), (eleven, ""): pytest.approx(0), (noon, ""): pytest.approx(0)}
    # 10:00 half satisfied of 2 served; 11:00 none served; 12:00 no evaluation, so no satisfaction rate.
    assert served == {(ten, ""): pytest.approx(1), (eleven, ""): pytest.approx(0), (noon, ""): None}


async def test_the_panel_query_runs_as_grafana_sends_it(stack, written) -> None:
    """`govpulse indicators NAME --sql --scope city` expands with Grafana's macros and gives the API's values."""
    day, city = written["day"], written["city"]
    time_range = TimeRange(day, day + timedelta(days=1))
    for group in (None, "hall"):
        q, scope_value = panel_query("city", "1h", group)
        text = panel_sql(INDICATORS["bad_reviews"], q, scope_value)
        assert "$__fromTime" in text and "${city}" in text
        rows = await stack.ch.query(expand(text, QueryContext(time_range, 60, {"city": str(city)})))
        expected = await _series(stack, "bad_reviews", _query(written, f"city:{city}", group))
        got = {(_utc(t), row[0] if group else ""): row[-1] for t, *row in rows}
        assert got == {key: pytest.approx(value) for key, value in expected.items()}


async def test_the_list_shows_defined_indicators_with_kind_and_expression(stack) -> None:
    add_user(stack, "defined-viewer", "viewer")
    session = await signed_in(stack, "defined-viewer")
    async with session, session.get("/api/v1/indicators") as resp:
        assert resp.status == 200
        body = await resp.json()
    by_name = {i["name"]: i for i in body["indicators"]}
    assert by_name["bad_reviews"]["kind"] == "formula"
    assert by_name["bad_reviews"]["expression"] == "bad_review_rate * evaluations"
    assert by_name["onsite_inspection_score"]["kind"] == "manual"
    assert by_name["evaluations"]["kind"] == "built_in"
    assert "bad_reviews" in body["defined"]["indicators"] and body["defined"]["last_error"] == []


async def test_every_shipped_indicator_answers_for_its_scopes_windows_and_groups(stack) -> None:
    """Each indicator of alert_rules/indicators/ runs against the real schema for every scope, window and group."""
    example = {"province": "province", "city": "city:440100", "county": "county:440106", "hall": "hall:H440106001"}
    example |= {"dept": "dept:D440100-01"}
    now = datetime.now(UTC)
    defined = read_defined(SHIPPED, BUILT_INS)[0]
    for name, indicator in defined.indicators.items():
        for scope in indicator.scopes:
            for window in indicator.windows:
                for group in (None, *[g for g in indicator.group_kinds if scope == "province"]):
                    q = IndicatorQuery.build(example[scope], window, None, None, now, group)
                    answer = await run(stack.ch, name, q)
                    assert isinstance(answer["points"], list), (name, scope, window, group)
