"""How fast one worker process drains a backlog: the per-worker figure behind the scale-out sizing.

Run: .venv/bin/python -m tests.bench.worker_drain [--events 300000] [--partitions 8]

Starts a broker and Redis of its own, fills the raw topics with pre-generated
simulator traffic (batches of 500 keyed by city, as the gateway writes them),
then starts `govpulse up --roles worker,center` (worker and rule engine in one
process, chDB, as the embedded mode allows) and times it until every event is
stored: events/s, CPU seconds per million events, peak RSS. Generating and
producing the load happen before the clock starts. Not a test: it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer

from connectors.embedded import free_port, tansu_broker, valkey_server
from connectors.kafka import topics as kafka_conn
from streams.definitions import STREAMS
from streams.models.wire import encode_batch_parts
from streams.registry.generate import generate
from tests.bench.procs import cpu_s as _cpu_s
from tests.bench.soak import _pool, _rss_mb

BATCH = 500


def _stored(base: str) -> float:
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return -1.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("govpulse_events_accepted_total{")
    )


async def _fill(bootstrap: str, events: int) -> int:
    """Produce `events` fresh events as gateway-shaped batches; returns how many were sent."""
    registry = generate(halls=2100)
    pool = _pool()
    keys = sorted(pool)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5, max_request_size=16 * 1024 * 1024)
    await producer.start()
    sent = 0
    now = datetime.now(UTC)
    try:
        for n in itertools.count():
            if sent >= events:
                break
            source, stream = keys[n % len(keys)]
            batch = [
                {
                    **e,
                    "event_id": f"{e['event_id']}-d{n}-{i}",
                    "occurred_at": (now - timedelta(seconds=30)).isoformat(),
                    "sent_at": now.isoformat(),
                }
                for i, e in enumerate(itertools.islice(itertools.cycle(pool[(source, stream)]), BATCH))
            ]
            value = encode_batch_parts(
                stream=stream, source=source, batch_id=f"drain-{n}", received_at=now, events=batch
            )
            await producer.send(
                STREAMS[stream].topic, value=value, key=str(registry.city_of_source(source) or 0).encode()
            )
            sent += len(batch)
        await producer.flush()
    finally:
        await producer.stop()
    return sent


def main(events: int, partitions: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="govpulse-drain-"))
    broker, redis = tansu_broker(free_port(), data / "logs"), valkey_server(free_port(), data / "redis")
    broker.start()
    redis.start()
    bootstrap = f"127.0.0.1:{broker.port}"
    kafka_conn.ensure_topics(bootstrap, partitions)
    print(f"producing {events} events onto {partitions} partitions...", flush=True)
    sent = asyncio.run(_fill(bootstrap, events))
    port = free_port()
    env = {
        **os.environ,
        "GOVPULSE_ROLES": "worker,center",
        "GOVPULSE_KAFKA_DSN": f"kafka://{bootstrap}",
        "GOVPULSE_REDIS_DSN": f"redis://127.0.0.1:{redis.port}/0",
        "GOVPULSE_TOPIC_PARTITIONS": str(partitions),
        "GOVPULSE_LOG_LEVEL": "warning",
    }
    # The child holds its own copy of the log's descriptor, so ours is closed once it has started.
    with (data / "govpulse.log").open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agents.cli.main", "up", "--data-dir", str(data), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        while _stored(base) <= 0:  # the clock starts at the first stored event: start-up is not draining
            if proc.poll() is not None:
                raise SystemExit(f"govpulse exited; see {data / 'govpulse.log'}")
            time.sleep(0.2)
        began, cpu0, peak = time.monotonic(), _cpu_s(proc.pid), 0.0
        stored = _stored(base)
        while stored < sent:
            time.sleep(1)
            stored = _stored(base)
            peak = max(peak, _rss_mb(proc.pid))
            if time.monotonic() - began > 1800:
                break
        took, cpu = time.monotonic() - began, _cpu_s(proc.pid) - cpu0
        print(
            f"worker drain: {stored:.0f} of {sent} events stored in {took:.1f} s = {stored / took:,.0f} events/s; "
            f"{cpu / stored * 1e6:,.0f} CPU s per million events (worker+center process); peak RSS {peak:,.0f} MB; "
            f"{os.cpu_count()} cores",
            flush=True,
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        redis.stop()
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    main(args.events, args.partitions)
