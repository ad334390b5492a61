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
import hashlib
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from connectors.alert_outputs import CHANNEL
from streams.runtime import Stack
from streams.settings import Settings

CITY = 441500


def _burst(stack: Stack, staff: str) -> list[dict]:
    hall = stack.registry.halls_in_city(CITY)[0]
    window = next(w for w in stack.registry.entities("window") if w.hall_id == hall.hall_id)
    item = next(iter(stack.registry.entities("item")))
    now = datetime.now(UTC).isoformat()
    return [{"event_id": f"lat-{staff}-{i}", "source": f"node-{CITY}", "seq": i, "occurred_at": now, "sent_at": now,
             "type": "evaluation", "case_no": f"BJ{staff}{i}", "item_id": item.item_id, "dept_id": item.dept_id,
             "level": "dissatisfied", "channel": "hall_pad", "mode": "active", "hall_id": hall.hall_id,
             "window_id": window.window_id, "staff_id": staff,
             "evaluator_hash": hashlib.sha256(f"{staff}{i}".encode()).hexdigest()} for i in range(5)]  # fmt: skip


async def main(bursts: int) -> None:
    stack = Stack(Settings(data_dir=Path(tempfile.mkdtemp(prefix="govpulse-lat-")), http_port=0, log_level="warning"),
                  demo_tokens=True)  # fmt: skip
    await stack.start()
    try:
        pubsub = stack.redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        latencies = []
        async with aiohttp.ClientSession() as session:
            for n in range(bursts):
                staff = f"S-LAT-{n}-{time.time():.0f}"
                started = time.perf_counter()
                async with session.post(f"{stack.base_url}/api/v1/ingest/evaluation",
                                        json={"source": f"node-{CITY}", "events": _burst(stack, staff)},
                                        headers={"Authorization": f"Bearer {stack.demo_tokens[f'node-{CITY}']}"}) as resp:  # fmt: skip
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
        p99 = latencies[min(len(latencies) - 1, int(round(0.99 * (len(latencies) - 1))))]
        print(f"event-to-alert (gateway POST → Redis pub/sub), {len(latencies)} bursts: "
              f"p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
        await pubsub.aclose()
    finally:
        await stack.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--bursts", type=int, default=50)
    asyncio.run(main(parser.parse_args().bursts))
