"""Benchmark: from a bad-review burst posted to the gateway until its alert is published on Redis.

Run: .venv/bin/python -m tests.bench.alert_latency [--bursts 50]
Starts a whole embedded stack with the shipped rules, posts bursts of five
bad reviews for distinct staff members (each trips staff_bad_review_burst),
and prints p50 and p99 of the time until the firing notice reaches a Redis
subscriber. Not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from agents.settings import Settings
from agents.stack import Stack
from connectors.alert_outputs import CHANNEL
from tests.integration.center import bad_reviews

CITY = 441500


def _just_now() -> datetime:
    """The burst's five reviews, 10 s apart, end 10 s before it is posted."""
    return datetime.now(UTC) - timedelta(seconds=50)


async def main(bursts: int) -> None:
    stack = Stack(
        Settings(data_dir=Path(tempfile.mkdtemp(prefix="govpulse-lat-")), http_port=0, log_level="warning"),
        demo_tokens=True,
    )
    await stack.start()
    try:
        pubsub = stack.redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        latencies = []
        async with aiohttp.ClientSession() as session:
            for n in range(bursts):
                staff = f"S-LAT-{n}-{time.time():.0f}"
                started = time.perf_counter()
                async with session.post(
                    f"{stack.base_url}/api/v1/ingest/evaluation",
                    json={"source": f"node-{CITY}", "events": bad_reviews(stack, CITY, staff, at=_just_now())},
                    headers={"Authorization": f"Bearer {stack.demo_tokens[f'node-{CITY}']}"},
                ) as resp:
                    assert resp.status == 202
                deadline = time.monotonic() + 30
                while True:
                    assert time.monotonic() < deadline, "no alert within 30 s"
                    # None also stands for a consumed subscribe confirmation, so keep asking.
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
                    if message is None:
                        continue
                    notice = json.loads(message["data"])
                    if notice["kind"] == "firing" and notice["alert"]["group"].get("staff") == staff:
                        latencies.append(time.perf_counter() - started)
                        break
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
        print(
            f"event-to-alert (gateway POST → Redis pub/sub), {len(latencies)} bursts: "
            f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {latencies[-1] * 1000:.0f} ms"
        )
        await pubsub.aclose()
    finally:
        await stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bursts", type=int, default=50)
    asyncio.run(main(parser.parse_args().bursts))
