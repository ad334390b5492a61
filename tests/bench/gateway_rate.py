"""How many events/s one gateway process takes: the other per-process figure behind the scale-out sizing.

Run: .venv/bin/python -m tests.bench.gateway_rate [--seconds 30] [--clients 8]

Starts a broker of its own and `govpulse up --roles gateway`, then posts
pre-encoded simulator batches of 500 (encoding costs the gateway nothing it
would not pay anyway) from this process for --seconds, and prints the events/s
the gateway accepted (202, in Kafka), its CPU seconds per million events and
its peak RSS. The load generator and the broker share the machine with it. Not
a test: it prints.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from connectors.embedded import free_port, tansu_broker
from connectors.gateway.node_tokens import issue_tokens
from connectors.kafka import topics as kafka_conn
from tests.bench.procs import cpu_s as _cpu_s
from tests.bench.procs import rss_mb as _rss_mb
from tests.bench.soak import _pool
from tests.integration.processes import Up

BATCH = 500


def _bodies() -> list[tuple[str, str, bytes]]:
    """(source, stream, body) for every source and stream of an hour of simulated traffic."""
    now = datetime.now(UTC)
    out = []
    for (source, stream), events in sorted(_pool().items()):
        batch = [
            {**e, "occurred_at": (now - timedelta(seconds=30)).isoformat(), "sent_at": now.isoformat()}
            for e in itertools.islice(itertools.cycle(events), BATCH)
        ]
        out.append((source, stream, json.dumps({"source": source, "events": batch}).encode()))
    return out


async def _load(
    base: str, tokens: dict[str, str], bodies: list[tuple[str, str, bytes]], seconds: float, clients: int
) -> tuple[int, int]:
    accepted = errors = 0
    end = time.monotonic() + seconds

    async def client(offset: int, session: aiohttp.ClientSession) -> None:
        nonlocal accepted, errors
        for n in itertools.count(offset, clients):
            if time.monotonic() >= end:
                return
            source, stream, body = bodies[n % len(bodies)]
            headers = {"Authorization": f"Bearer {tokens[source]}", "Content-Type": "application/json"}
            async with session.post(f"{base}/api/v1/ingest/{stream}", data=body, headers=headers) as resp:
                answer = await resp.json()
                if resp.status == 202:
                    accepted += answer["accepted"]
                else:
                    errors += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(client(i, session) for i in range(clients)))
    return accepted, errors


def main(seconds: float, clients: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="govpulse-gwrate-"))
    print("pre-generating traffic...", flush=True)
    bodies = _bodies()
    broker = tansu_broker(free_port(), data / "logs")
    broker.start()
    bootstrap = f"127.0.0.1:{broker.port}"
    kafka_conn.ensure_topics(bootstrap, 8)
    tokens = issue_tokens(sorted({source for source, _, _ in bodies}), data / "gw" / "node_tokens.json")
    gate = Up(
        data / "gw",
        env={
            "GOVPULSE_ROLES": "gateway",
            "GOVPULSE_KAFKA_DSN": f"kafka://{bootstrap}",
            "GOVPULSE_REGISTRY_HALLS": "2100",
            "GOVPULSE_LOG_LEVEL": "warning",
        },
    )
    try:
        asyncio.run(_load(gate.base, tokens, bodies, 5, clients))  # warm-up
        cpu0 = _cpu_s(gate.proc.pid)
        began = time.monotonic()
        accepted, errors = asyncio.run(_load(gate.base, tokens, bodies, seconds, clients))
        took, cpu = time.monotonic() - began, _cpu_s(gate.proc.pid) - cpu0
        print(
            f"gateway: {accepted / took:,.0f} events/s accepted over {took:.0f} s ({errors} errors); "
            f"{cpu / max(accepted, 1) * 1e6:,.0f} CPU s per million events; RSS {_rss_mb(gate.proc.pid):,.0f} MB",
            flush=True,
        )
    finally:
        gate.terminate()
        broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    main(args.seconds, args.clients)
