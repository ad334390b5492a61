"""Composite scores over a small scripted day in three cities of the pool: the best, the middle and the worst.

The day goes through the real gateway, worker and chDB; the score routes are
mounted on an app of this test's own (the running stack does not mount them
yet) and asked over HTTP. Times are local (Asia/Shanghai) on the day before
the test runs. Other tests put data in other cities, which is why the
hand-computed scores use a tree of `target` leaves only: their scores do not
depend on any other city. With the shipped tree (min_max leaves) only the
order of the three cities is checked, and the script makes the best at least
as good as the middle, and the middle as the worst, on every leaf, so the order
holds whatever else is stored. A fourth city of the pool is sent nothing.

                waits (s)      walkouts   evaluations
    best        100, 200       0 of 2     2 very_satisfied
    middle      300, 500       1 of 3     3 satisfied, 1 dissatisfied
    worst       600, 1200      2 of 4     1 satisfied, 1 very_dissatisfied

wait_p90_s of two waits a < b is a + 0.9 (b - a): 190, 480 and 1140.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from connectors.center import scores_api
from connectors.center.auth_api import PRINCIPAL
from streams.auth.access import Principal
from streams.indicators.query import IndicatorQuery
from streams.indicators.scorecard import Scorecard, load_scorecard
from streams.indicators.service import run
from streams.workdays import SHANGHAI
from tests.integration.helpers import eventually

pytestmark = pytest.mark.integration

SHIPPED = Path(__file__).resolve().parents[2] / "alert_rules" / "scorecards" / "province.yaml"
_ids = itertools.count(1)

# target leaves only. 数据 has no data for yesterday (data-quality indicators are placed
# by when data was stored, which is today), so its 0.2 is shared by 效率 and 满意.
TARGETS = {
    "name": "targets_only",
    "title": "目标值测试",
    "levels": ["city"],
    "dimensions": [
        {
            "name": "效率",
            "weight": 0.5,
            "children": [
                {
                    "indicator": "wait_p90_s",
                    "weight": 0.5,
                    "direction": "lower_better",
                    "normalization": "target",
                    "best": 0,
                    "worst": 1000,
                },
                {
                    "indicator": "walkout_rate",
                    "weight": 0.5,
                    "direction": "lower_better",
                    "normalization": "target",
                    "best": 0,
                    "worst": 0.5,
                },
            ],
        },
        {
            "name": "满意",
            "weight": 0.3,
            "children": [
                {
                    "indicator": "satisfaction_rate",
                    "weight": 1.0,
                    "direction": "higher_better",
                    "normalization": "target",
                    "best": 1,
                    "worst": 0,
                },
            ],
        },
        {
            "name": "数据",
            "weight": 0.2,
            "children": [
                {
                    "indicator": "ingest_lag_p95_s",
                    "weight": 1.0,
                    "direction": "lower_better",
                    "normalization": "target",
                    "best": 0,
                    "worst": 3600,
                },
            ],
        },
    ],
}
DEPARTMENTS = {
    "name": "dept_satisfaction",
    "title": "部门满意度",
    "levels": ["dept"],
    "dimensions": [
        {
            "name": "满意",
            "weight": 1.0,
            "children": [
                {
                    "indicator": "satisfaction_rate",
                    "weight": 1.0,
                    "direction": "higher_better",
                    "normalization": "target",
                    "best": 1,
                    "worst": 0,
                },
            ],
        }
    ],
}


class Cities(NamedTuple):
    """The module's cities: three scripted from best to worst, and one nobody sends anything for."""

    best: int
    middle: int
    worst: int
    unsent: int


class CityDay:
    """One city's scripted events for one local day."""

    def __init__(self, stack: Any, city: int, midnight: datetime) -> None:
        self.city, self.midnight, self.source = city, midnight, f"node-{city}"
        self.hall = stack.registry.halls_in_city(city)[0].hall_id
        self.window = next(w.window_id for w in stack.registry.windows() if w.hall_id == self.hall)
        self.item = next(iter(stack.registry.items())).item_id
        self.run = f"{datetime.now(UTC).timestamp():.0f}"
        self.queue: list[dict[str, Any]] = []
        self.evaluations: list[dict[str, Any]] = []

    def _base(self, kind: str, hhmmss: str) -> dict[str, Any]:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        n = next(_ids)
        return {
            "event_id": f"scores-{self.run}-{n}",
            "source": self.source,
            "seq": n,
            "type": kind,
            "occurred_at": (self.midnight + timedelta(hours=h, minutes=m, seconds=s)).astimezone(UTC).isoformat(),
            "sent_at": datetime.now(UTC).isoformat(),
        }

    def _ticket(self, no: str, kind: str, at: str) -> dict[str, Any]:
        event = self._base(kind, at) | {
            "hall_id": self.hall,
            "ticket_no": no,
            "item_id": self.item,
            "dept_id": f"D{self.city}-01",
        }
        if kind not in ("ticket_issued", "ticket_walkout"):
            event["window_id"] = self.window
        return event

    def served(self, no: str, issued: str, called: str, started: str, completed: str) -> None:
        steps = {
            "ticket_issued": issued,
            "ticket_called": called,
            "service_started": started,
            "service_completed": completed,
        }
        self.queue += [self._ticket(no, kind, at) for kind, at in steps.items()]

    def walked_out(self, no: str, issued: str, left: str) -> None:
        self.queue += [self._ticket(no, "ticket_issued", issued), self._ticket(no, "ticket_walkout", left)]

    def evaluation(self, at: str, level: str, dept: int = 1) -> None:
        n = next(_ids)
        self.evaluations.append(
            self._base("evaluation", at)
            | {
                "case_no": f"SC{self.run}{n}",
                "item_id": self.item,
                "dept_id": f"D{self.city}-{dept:02d}",
                "level": level,
                "channel": "hall_pad",
                "mode": "active",
                "hall_id": self.hall,
                "window_id": self.window,
                "device_id": f"pad-{self.city}",
                "evaluator_hash": hashlib.sha256(f"scores-{n}".encode()).hexdigest(),
            }
        )


def _script(stack: Any, cities: Cities, midnight: datetime) -> list[CityDay]:
    best, middle, worst = (CityDay(stack, c, midnight) for c in (cities.best, cities.middle, cities.worst))
    best.served("A001", "09:00:00", "09:01:40", "09:02:00", "09:07:00")  # wait 100
    best.served("A002", "09:00:00", "09:03:20", "09:03:30", "09:08:30")  # wait 200
    best.evaluation("09:10:00", "very_satisfied", dept=1)
    best.evaluation("09:11:00", "very_satisfied", dept=2)
    middle.served("B001", "09:00:00", "09:05:00", "09:05:30", "09:10:30")  # wait 300
    middle.served("B002", "09:00:00", "09:08:20", "09:08:30", "09:13:30")  # wait 500
    middle.walked_out("B003", "09:10:00", "09:20:00")
    for at in ("09:15:00", "09:16:00", "09:17:00"):
        middle.evaluation(at, "satisfied")
    middle.evaluation("09:18:00", "dissatisfied")
    worst.served("C001", "09:00:00", "09:10:00", "09:10:30", "09:15:30")  # wait 600
    worst.served("C002", "09:00:00", "09:20:00", "09:20:30", "09:25:30")  # wait 1200
    worst.walked_out("C003", "09:05:00", "09:15:00")
    worst.walked_out("C004", "09:06:00", "09:16:00")
    worst.evaluation("09:30:00", "satisfied")
    worst.evaluation("09:31:00", "very_dissatisfied")
    return [best, middle, worst]


async def _post(stack: Any, city: CityDay, stream: str, events: list[dict[str, Any]]) -> None:
    url = f"{stack.base_url}/api/v1/ingest/{stream}"
    headers = {"Authorization": f"Bearer {stack.demo_tokens[city.source]}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"source": city.source, "events": events}, headers=headers) as resp,
    ):
        body = await resp.json()
        assert resp.status == 202 and body["accepted"] == len(events) and not body["rejected"], body


async def _day_total(stack: Any, name: str, city: int, midnight: datetime) -> float | None:
    q = IndicatorQuery.build(f"city:{city}", "1d", midnight, midnight + timedelta(days=1), datetime.now(UTC))
    points = (await run(stack.ch, name, q))["points"]
    return points[0]["value"] if points else None


@pytest.fixture(scope="module")
def cities(claim_module_city: Any) -> Cities:
    return Cities(*claim_module_city(4))


@pytest.fixture(scope="module")
async def day(stack: Any, cities: Cities) -> datetime:
    """Send the three cities' day; return its local midnight once every event is in the indicator tables."""
    midnight = (datetime.now(SHANGHAI) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    scripted = _script(stack, cities, midnight)
    for city in scripted:
        await _post(stack, city, "queue", city.queue)
        await _post(stack, city, "evaluation", city.evaluations)

    async def all_in() -> bool:
        for city in scripted:
            issued = len({e["ticket_no"] for e in city.queue})
            if await _day_total(stack, "tickets_issued", city.city, midnight) != issued:
                return False
            if await _day_total(stack, "tickets_served", city.city, midnight) != 2:
                return False
            if await _day_total(stack, "evaluations", city.city, midnight) != len(city.evaluations):
                return False
        return True

    await eventually(all_in, timeout_s=60)
    return midnight


def _card(tmp_path: Path, data: dict[str, Any]) -> Scorecard:
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_scorecard(path)


@pytest.fixture(scope="module")
async def client(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestClient]:
    """The score routes on an app of their own, served on the test's event loop."""
    folder = tmp_path_factory.mktemp("scorecards")
    cards = [load_scorecard(SHIPPED), _card(folder, TARGETS), _card(folder, DEPARTMENTS)]

    @web.middleware
    async def province_operator(request: web.Request, handler: Any) -> web.StreamResponse:
        # These tests are about ranking; sign-in and scope are tested on the stack
        # (test_indicator_api, test_center_api).
        request[PRINCIPAL] = Principal("scores-test", "province_operator", None)
        return await handler(request)

    app = web.Application(middlewares=[province_operator])
    scores_api.add_routes(app, stack.ch, stack.registry, cards, lambda: datetime.now(UTC))
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _get(client: TestClient, query: str) -> tuple[int, dict[str, Any]]:
    resp = await client.get(f"/api/v1/scores?{query}")
    return resp.status, await resp.json()


def _rows(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["entity_id"]: row for row in body["ranking"]}


async def test_hand_computed_scores_with_target_leaves(client: TestClient, day: datetime, cities: Cities) -> None:
    best, middle, worst, unsent = cities
    """Scores follow the script by hand; the missing data-quality dimension is listed and its weight shared."""
    status, body = await _get(client, f"level=city&scorecard=targets_only&day={day.date().isoformat()}")
    assert status == 200, body
    assert body["period"] == {
        "from": day.date().isoformat(),
        "to": day.date().isoformat(),
        "days": 1,
        "start": day.isoformat(),
        "end": (day + timedelta(days=1)).isoformat(),
    }
    rows = _rows(body)
    assert len(rows) == 21
    # best: wait 100 × (1000-190)/1000 = 81, walkout 100, 效率 90.5, 满意 100 → (0.5 × 90.5 + 0.3 × 100) / 0.8.
    # middle: wait 52, walkout 100 × (0.5-1/3)/0.5 = 33.33, 效率 42.67, 满意 75 → (0.5 × 42.67 + 0.3 × 75) / 0.8.
    # worst: wait 1140 and walkout 0.5 are at or past worst → 效率 0, 满意 50 → 0.3 × 50 / 0.8.
    expected = {str(best): (90.5, 100, 94.0625), str(middle): (128 / 3, 75, 54.791667), str(worst): (0, 50, 18.75)}
    for city, (efficiency, satisfaction, total) in expected.items():
        row = rows[city]
        assert row["values"]["wait_p90_s"] == pytest.approx({best: 190, middle: 480, worst: 1140}[int(city)])
        assert row["dimensions"] == {
            "效率": pytest.approx(efficiency),
            "满意": pytest.approx(satisfaction),
            "数据": None,
        }
        assert row["total"] == pytest.approx(total)
        assert row["missing"] == ["数据/ingest_lag_p95_s"] and row["weight_covered"] == pytest.approx(0.8)
    assert rows[str(best)]["rank"] < rows[str(middle)]["rank"] < rows[str(worst)]["rank"]
    # A city nobody sent anything for is listed without a score or rank.
    assert rows[str(unsent)]["total"] is None and rows[str(unsent)]["rank"] is None


async def test_the_shipped_tree_ranks_the_three_cities_in_order(
    stack: Any, client: TestClient, day: datetime, cities: Cities
) -> None:
    """With province.yaml (the default for level=city) the best ranks above the middle, the middle above the worst;
    yesterday is the default day."""
    best, middle, worst, _ = cities
    status, body = await _get(client, "level=city")
    assert status == 200, body
    assert body["scorecard"] == "province" and body["period"]["from"] == day.date().isoformat()
    rows = _rows(body)
    assert rows[str(best)]["rank"] < rows[str(middle)]["rank"] < rows[str(worst)]["rank"]
    assert rows[str(best)]["name"] == stack.registry.city(best).name and rows[str(best)]["scope"] == f"city:{best}"
    assert set(rows[str(best)]["dimensions"]) == {"服务效率", "服务质量", "数据质量"}
    assert "数据质量/及时性/ingest_lag_p95_s" in rows[str(best)]["missing"]
    assert rows[str(best)]["values"]["satisfaction_rate"] == 1.0 and rows[str(worst)]["values"]["walkout_rate"] == 0.5
    ranks = [row["rank"] for row in body["ranking"] if row["rank"] is not None]
    assert ranks == sorted(ranks) and body["ranked"] == len(ranks)


async def test_departments_of_a_city_tie_when_their_scores_are_equal(
    client: TestClient, day: datetime, cities: Cities
) -> None:
    """The best city's two departments with one 非常满意 each share rank 1; its other departments have no score."""
    best = cities.best
    status, body = await _get(client, f"level=dept&city={best}&day={day.date().isoformat()}")
    assert status == 200, body
    assert body["scorecard"] == "dept_satisfaction"
    rows = _rows(body)
    assert all(entity.startswith(f"D{best}-") for entity in rows)
    assert [(r["entity_id"], r["rank"], r["total"]) for r in body["ranking"][:2]] == [
        (f"D{best}-01", 1, 100.0),
        (f"D{best}-02", 1, 100.0),
    ]
    assert all(r["rank"] is None for r in body["ranking"][2:])


async def test_a_period_of_several_days_averages_the_days_with_data(
    client: TestClient, day: datetime, cities: Cities
) -> None:
    """Over the day before and the scripted day, only the scripted day has data, so the scores are the same."""
    first = (day - timedelta(days=1)).date().isoformat()
    status, body = await _get(client, f"scorecard=targets_only&from={first}&to={day.date().isoformat()}")
    assert status == 200 and body["period"]["days"] == 2
    assert _rows(body)[str(cities.best)]["total"] == pytest.approx(94.0625)


async def test_the_scorecards_route_describes_the_trees(client: TestClient) -> None:
    """GET /api/v1/scorecards gives each tree with weights, directions and normalization."""
    resp = await client.get("/api/v1/scorecards")
    assert resp.status == 200
    cards = {card["name"]: card for card in (await resp.json())["scorecards"]}
    assert set(cards) == {"province", "targets_only", "dept_satisfaction"}
    efficiency = cards["province"]["dimensions"][0]
    leaf = efficiency["children"][0]["children"][0]
    assert (efficiency["name"], leaf["indicator"], leaf["direction"], leaf["normalization"]) == (
        "服务效率",
        "wait_p90_s",
        "lower_better",
        "target",
    )
    assert leaf["path"] == "服务效率/等候/wait_p90_s" and leaf["global_weight"] == pytest.approx(0.4 * 0.6 * 0.5)


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("level=county", "level 'county'"),
        ("day=2026-02-30", "not a date"),
        ("day=2999-01-01", "future"),
        ("level=dept&scorecard=province", "ranks city, not 'dept'"),
        ("level=dept&city=guangzhou&scorecard=dept_satisfaction", "GB/T 2260"),
        ("level=city&city=440700", "only narrows level dept"),
        ("scorecard=nope", "unknown scorecard"),
        ("from=2026-11-01", "together"),
    ],
)
async def test_bad_requests_say_why(client: TestClient, query: str, why: str) -> None:
    """Bad input is a 400 whose detail says what is wrong."""
    status, body = await _get(client, query)
    assert status == 400 and why in body["detail"], body
