"""One real embedded stack (Tansu, valkey-server, chDB, the Faust worker and gateway) per test session."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

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


async def eventually(check: Callable[[], Awaitable[Any]], timeout_s: float = 30.0, every_s: float = 0.2) -> Any:
    """Poll `check` until it returns a truthy value; fail with its last value."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s; last value {last!r}")


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every message now on `topic`, from the beginning (no consumer group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Any] = []
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, messages in batches.items():
                out.extend(messages)
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    pending.discard(tp)
        return out
    finally:
        await consumer.stop()
