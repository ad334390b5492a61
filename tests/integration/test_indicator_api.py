"""The indicator API and the `govpulse indicators` CLI against the running stack."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from tests.integration.center import PASSWORD, add_user, signed_in

pytestmark = pytest.mark.integration


async def _get(stack, path: str, user: str = "ind-province") -> tuple[int, dict]:
    add_user(stack, "ind-province", "province_operator")
    add_user(stack, "ind-guangzhou", "city_operator", "440100")
    session = await signed_in(stack, user)
    async with session, session.get(path) as resp:
        return resp.status, await resp.json()


async def test_the_list_names_every_indicator_with_its_definition(stack) -> None:
    """GET /api/v1/indicators lists names, units, scopes, windows and definitions."""
    status, body = await _get(stack, "/api/v1/indicators")
    assert status == 200
    names = {i["name"] for i in body["indicators"]}
    assert {
        "tickets_issued",
        "wait_p90_s",
        "service_level",
        "satisfaction_rate",
        "ingest_lag_p95_s",
        "rejected_share",
    } <= names


@pytest.mark.parametrize("scope", ["province", "city:440100", "county:440106", "hall:H440106001", "dept:D440100-01"])
@pytest.mark.parametrize("window", ["5m", "1h", "1d"])
async def test_every_scope_and_window_answers(stack, scope: str, window: str) -> None:
    """A queue and an evaluation indicator answer for every scope and window."""
    for name in ("wait_p90_s", "satisfaction_rate"):
        status, body = await _get(stack, f"/api/v1/indicators/{name}?scope={scope}&window={window}")
        assert status == 200, body
        assert body["scope"] == scope and body["window"] == window and isinstance(body["points"], list)


async def test_bad_requests_say_why(stack) -> None:
    """An unknown indicator is 404; a bad scope, window or time is 400 with a reason."""
    status, body = await _get(stack, "/api/v1/indicators/nope")
    assert status == 404 and "unknown indicator" in body["detail"]
    for query in ("scope=galaxy:1", "window=7m", "from=yesterday", "scope=source:node-440100"):
        status, body = await _get(stack, f"/api/v1/indicators/wait_p50_s?{query}")
        assert status == 400 and body["detail"], query


async def test_the_cli_queries_the_same_api(stack) -> None:
    """`govpulse indicators` lists indicators and prints one as JSON."""
    user = add_user(stack, "ind-cli", "viewer")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agents.cli.main", "indicators", *args, "--url", stack.base_url, "--user", user],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "GOVPULSE_PASSWORD": PASSWORD},
        )

    listing = await asyncio.to_thread(cli)
    assert listing.returncode == 0 and "service_level" in listing.stdout
    one = await asyncio.to_thread(cli, "tickets_issued", "--scope", "city:440100", "--window", "1d", "--json")
    assert one.returncode == 0
    assert json.loads(one.stdout)["indicator"] == "tickets_issued"
    bad = await asyncio.to_thread(cli, "tickets_issued", "--scope", "nowhere")
    assert bad.returncode == 1 and "scope" in bad.stderr


async def test_the_running_service_serves_scores(stack) -> None:
    """The stack mounts the composite-score API with the shipped tree, and ranks the 21 cities."""
    status, body = await _get(stack, "/api/v1/scorecards")
    assert status == 200 and body
    status, body = await _get(stack, "/api/v1/scores?level=city")
    assert status == 200, body
    assert len(body["ranking"]) == 21


async def test_departments_are_ranked_by_their_own_tree(stack) -> None:
    """level=dept uses the departments tree and ranks the provincial departments; with a city, its counterparts."""
    status, body = await _get(stack, "/api/v1/scores?level=dept")
    assert status == 200, body
    assert len(body["ranking"]) == sum(1 for d in stack.registry.departments() if d.level == "province")
    status, body = await _get(stack, "/api/v1/scores?level=dept&city=440100")
    assert status == 200, body
    assert {row["scope"] for row in body["ranking"]} <= {f"dept:{d.dept_id}" for d in stack.registry.departments()}
    assert body["scorecard"] == "departments"


async def test_every_indicator_answers_for_every_scope_and_window_it_declares(stack) -> None:
    """Each indicator's SQL runs against the real schema for each of its scopes and windows."""
    from datetime import UTC, datetime

    from streams.indicators.catalog import INDICATORS
    from streams.indicators.query import IndicatorQuery
    from streams.indicators.service import run

    example = {
        "province": "province",
        "city": "city:440100",
        "county": "county:440106",
        "hall": "hall:H440106001",
        "dept": "dept:D440100-01",
        "line": "line:D440000-01",
        "source": "source:node-440100",
    }
    now = datetime.now(UTC)
    for name, indicator in INDICATORS.items():
        for scope in indicator.scopes:
            for window in indicator.windows:
                answer = await run(stack.ch, name, IndicatorQuery.build(example[scope], window, None, None, now))
                assert answer["scope"] == example[scope] and isinstance(answer["points"], list)


async def test_a_city_operator_reads_indicators_and_scores_of_their_own_city_only(stack) -> None:
    hall = stack.registry.halls_in_city(440100)[0]
    for path in (
        "/api/v1/indicators/tickets_issued?scope=city:440100",
        f"/api/v1/indicators/tickets_issued?scope=hall:{hall.hall_id}",
        "/api/v1/scores?level=dept&city=440100",
    ):
        status, _ = await _get(stack, path, "ind-guangzhou")
        assert status == 200, path
    other = stack.registry.halls_in_city(440300)[0]
    for path in (
        "/api/v1/indicators/tickets_issued?scope=province",
        "/api/v1/indicators/tickets_issued?scope=city:440300",
        f"/api/v1/indicators/tickets_issued?scope=hall:{other.hall_id}",
        "/api/v1/indicators/tickets_issued?scope=county:440305",
        "/api/v1/scores?level=city",
        "/api/v1/scores?level=dept&city=440300",
    ):
        status, body = await _get(stack, path, "ind-guangzhou")
        assert status == 403, (path, body)
