"""One real embedded stack (Tansu, valkey-server, chDB, the Faust worker and gateway) per test session, and its cities
handed out one test or module at a time."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.settings import Settings
from agents.stack import Stack
from tests.integration.cities import CityClaims, CityPool

pytestmark = pytest.mark.integration
RULES = Path(__file__).resolve().parents[2] / "alert_rules"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "reserve_cities(*codes): the module's script is written around these cities; the pool reserves them for it",
    )


@pytest.fixture(scope="session")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    # A copy of the shipped rules, so a test may edit one and reload (and put it back) as ops would.
    rules = tmp_path_factory.mktemp("rules") / "alert_rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("scorecards"))
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("govpulse"),
        rules_dir=rules,
        http_port=0,
        registry_halls=300,
        sink_flush_s=0.2,
        topic_partitions=4,
        log_json=True,
    )
    running = Stack(settings, demo_tokens=True)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture(scope="session")
def city_pool(stack: Stack, request: pytest.FixtureRequest) -> CityPool:
    """The registry's cities. Those a collected module names with the `reserve_cities` marker are reserved for it at
    once, whenever it runs, so no test that runs before it is handed them."""
    pool = CityPool(city.code for city in stack.registry.cities())
    for item in request.session.items:
        for mark in item.iter_markers("reserve_cities"):
            pool.reserve(item.nodeid.split("::")[0], mark.args)
    return pool


@pytest.fixture
def claim_city(city_pool: CityPool, request: pytest.FixtureRequest) -> CityClaims:
    """Cities for this test alone: `claim_city()` or `a, b = claim_city(2)`."""
    return CityClaims(city_pool, request.node.nodeid)


@pytest.fixture(scope="module")
def claim_module_city(city_pool: CityPool, request: pytest.FixtureRequest) -> CityClaims:
    """Cities the tests of one module share, for a module-scoped fixture: `claim_module_city()` or `(2)`."""
    return CityClaims(city_pool, request.node.nodeid)
