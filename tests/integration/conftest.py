"""One real embedded stack (Tansu, valkey-server, chDB, the Faust worker and gateway) per test session."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents.settings import Settings
from agents.stack import Stack

pytestmark = pytest.mark.integration
RULES = Path(__file__).resolve().parents[2] / "alert_rules"


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
