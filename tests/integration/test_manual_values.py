"""Manual indicator values on the real stack: upload through the monitoring center, read back, score with them.

The values are for last month (Asia/Shanghai) of `onsite_inspection_score`, the manual indicator the shipped
alert_rules/indicators/province.yaml declares (points 0-100, per month, city and dept). They go to the shared
city and one more: manual values live in a table of their own that no other test reads, so storing them
changes no other test's data and the module needs no city of its own from the pool.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, time, timedelta
from typing import Any

import aiohttp
import pytest
from openpyxl import Workbook

from streams.indicators.scorecard import parse_scorecard
from streams.indicators.scoring import Period, rank
from streams.periods import parse_period
from streams.workdays import SHANGHAI
from tests.integration.center import add_user, signed_in
from tests.integration.cities import SHARED_CITY

pytestmark = pytest.mark.integration

NAME = "onsite_inspection_score"
OTHER_CITY = 440300
MONTH = parse_period(datetime.now(SHANGHAI).strftime("%Y-%m")).previous()
DEPT = f"D{SHARED_CITY}-01"


def _csv(*rows: str) -> bytes:
    return ("指标,对象类型,对象,期间,值,备注\n" + "\n".join(rows) + "\n").encode("gb18030")


def _xlsx(*rows: tuple[Any, ...]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["indicator", "entity", "period", "value"])
    for row in rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _upload(
    client: aiohttp.ClientSession, data: bytes, name: str, partial: bool = False
) -> tuple[int, dict[str, Any]]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    async with client.post("/api/v1/manual-values" + ("?partial=1" if partial else ""), data=form) as resp:
        return resp.status, await resp.json()


async def _upload_raw(client: aiohttp.ClientSession, data: bytes, name: str) -> tuple[int, dict[str, Any]]:
    async with client.post("/api/v1/manual-values", params={"filename": name}, data=data) as resp:
        return resp.status, await resp.json()


async def _values(client: aiohttp.ClientSession, query: str = "") -> list[dict[str, Any]]:
    async with client.get(f"/api/v1/manual-values?indicator={NAME}{query}") as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["values"]


async def _daily(client: aiohttp.ClientSession, scope: str) -> list[float | None]:
    start = datetime.combine(MONTH.first_day, time(0), SHANGHAI)
    end = datetime.combine(MONTH.last_day + timedelta(days=1), time(0), SHANGHAI)
    params = {"scope": scope, "window": "1d", "from": start.isoformat(), "to": end.isoformat()}
    async with client.get(f"/api/v1/indicators/{NAME}", params=params) as resp:
        assert resp.status == 200, await resp.text()
        return [p["value"] for p in (await resp.json())["points"]]


@pytest.fixture(scope="module")
async def province(stack: Any) -> Any:
    session = await signed_in(stack, add_user(stack, "mv-province", "province_operator"))
    yield session
    await session.close()


@pytest.fixture(scope="module")
async def city_operator(stack: Any) -> Any:
    session = await signed_in(stack, add_user(stack, "mv-city", "city_operator", str(SHARED_CITY)))
    yield session
    await session.close()


async def test_a_file_with_bad_rows_is_reported_row_by_row_and_nothing_is_stored(province: Any) -> None:
    """Every bad row comes back with its line and reason; the good rows of that file are not stored either."""
    status, body = await _upload(
        province,
        _csv(
            f"{NAME},城市,{SHARED_CITY},{MONTH.label},55,good",
            f"{NAME},城市,{SHARED_CITY},{MONTH.first_day.year}Q1,55,",
            f"{NAME},部门,D449900-01,{MONTH.label},55,",
            f"{NAME},城市,{OTHER_CITY},{MONTH.label},101,",
            f"tickets_issued,城市,{OTHER_CITY},{MONTH.label},1,",
        ),
        "检查.csv",
    )
    assert status == 422, body
    assert body["status"] == "refused" and body["stored"] == 0 and body["encoding"] == "gb18030"
    assert [(r["line"], r["reason"]) for r in body["refused"]] == [
        (3, "period_mismatch"),
        (4, "unknown_entity"),
        (5, "out_of_range"),
        (6, "not_manual"),
    ]
    assert await _values(province, f"&entity={SHARED_CITY}") == []


async def test_a_good_file_is_stored_and_served_as_the_indicator_every_day_of_its_month(province: Any) -> None:
    """The city's and the department's values are the indicator's daily values over the whole month."""
    status, body = await _upload(
        province,
        _csv(f"{NAME},城市,{SHARED_CITY},{MONTH.label},82.5,首次", f"{NAME},部门,{DEPT},{MONTH.label},64,"),
        "inspection.csv",
    )
    assert status == 201 and body["status"] == "stored" and body["stored"] == 2, body
    assert await _daily(province, f"city:{SHARED_CITY}") == [82.5] * MONTH.days
    assert await _daily(province, f"dept:{DEPT}") == [64.0] * MONTH.days


async def test_a_corrected_upload_supersedes_and_the_history_keeps_both(province: Any) -> None:
    """An XLSX sent as the raw body corrects the city's value; the older one is listed as superseded."""
    status, body = await _upload_raw(province, _xlsx((NAME, SHARED_CITY, MONTH.label, 90)), "correction.xlsx")
    assert status == 201 and body["format"] == "xlsx", body
    assert await _daily(province, f"city:{SHARED_CITY}") == [90.0] * MONTH.days
    (current,) = await _values(province, f"&entity={SHARED_CITY}")
    assert (current["value"], current["file"], current["uploaded_by"]) == (90.0, "correction.xlsx", "mv-province")
    assert [(h["value"], h["file"], h["superseded_by"]) for h in current["history"]] == [
        (82.5, "inspection.csv", body["upload_id"])
    ]


async def test_a_viewer_cannot_upload(stack: Any) -> None:
    viewer = await signed_in(stack, add_user(stack, "mv-viewer", "viewer"))
    try:
        status, body = await _upload(viewer, _csv(f"{NAME},城市,{SHARED_CITY},{MONTH.label},1,"), "v.csv")
    finally:
        await viewer.close()
    assert status == 403 and body["error"] == "forbidden"


async def test_a_city_operator_uploads_and_reads_their_own_city_only(province: Any, city_operator: Any) -> None:
    """Another city's row is refused (even with partial), their own is stored, and they read their city's values."""
    status, body = await _upload(
        city_operator,
        _csv(f"{NAME},城市,{OTHER_CITY},{MONTH.label},70,", f"{NAME},部门,D{SHARED_CITY}-02,{MONTH.label},75,"),
        "city.csv",
        partial=True,
    )
    assert status == 201 and body["stored"] == 1, body
    assert [(r["line"], r["reason"]) for r in body["refused"]] == [(2, "other_city")]
    status, body = await _upload(province, _csv(f"{NAME},城市,{OTHER_CITY},{MONTH.label},70,"), "other.csv")
    assert status == 201, body
    assert {v["entity"] for v in await _values(province)} >= {str(SHARED_CITY), str(OTHER_CITY)}
    seen = await _values(city_operator)
    assert f"D{SHARED_CITY}-02" in {v["entity"] for v in seen}
    assert {v["city_code"] for v in seen} == {SHARED_CITY}


async def test_a_scorecard_scores_with_a_manual_leaf_and_marks_it(stack: Any, province: Any) -> None:
    """Over last month the city's manual leaf scores its uploaded value and is marked manual; the other, system."""
    if not await _values(province, f"&entity={SHARED_CITY}"):
        await _upload(province, _csv(f"{NAME},城市,{SHARED_CITY},{MONTH.label},90,"), "score.csv")
    (current,) = await _values(province, f"&entity={SHARED_CITY}")
    leaf = {"weight": 0.5, "direction": "higher_better", "normalization": "target", "worst": 0}
    card = parse_scorecard(
        {
            "name": "inspection",
            "title": "现场检查",
            "levels": ["city"],
            "dimensions": [
                {
                    "name": "检查",
                    "weight": 1.0,
                    "children": [
                        {**leaf, "indicator": NAME, "best": 100},
                        {**leaf, "indicator": "satisfaction_rate", "best": 1},
                    ],
                }
            ],
        },
        "test",
    )
    ranking = await rank(
        stack.ch, stack.registry, card, "city", Period(MONTH.first_day, MONTH.last_day), datetime.now(UTC)
    )
    result = next(s for s in ranking.scores if s.entity_id == str(SHARED_CITY))
    # target 0-100 on a 0-100 score: the leaf's score is the value itself.
    assert ranking.values[str(SHARED_CITY)][NAME] == pytest.approx(current["value"])
    assert result.nodes[f"检查/{NAME}"] == pytest.approx(current["value"])
    assert result.sources == {f"检查/{NAME}": "manual", "检查/satisfaction_rate": "system"}
