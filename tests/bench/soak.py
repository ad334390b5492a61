"""Soak: the embedded stack under steady load for a long time; is memory flat, does the worker keep up?

Run: .venv/bin/python -m tests.bench.soak [--minutes 30] [--rate 10000] [--warmup 3]
Starts `govpulse up` as its own process (so the load generator does not share
its event loop), posts simulator traffic replayed with fresh ids and times
through the gateway at --rate events/s, and every 30 s prints the rate
achieved, the worker's lag (accepted by the gateway, not yet stored),
rejections and errors, and the RSS of govpulse and of its broker and Redis.
At the end: RSS growth after warm-up. Not a test: nothing fails on a slow
machine; it prints what it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from connectors.embedded import free_port
from connectors.gateway.node_tokens import issue_tokens
from streams.registry.generate import generate
from streams.simulator import Simulation
from tests.bench.procs import rss_mb as _rss_mb

BATCH = 500


def _children(pid: int) -> list[int]:
    """Child processes (the broker, then Redis), whichever thread started them."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return sorted(found)


def _pool() -> dict[tuple[str, str], list[dict]]:
    """An hour of simulated traffic per (source, stream), to replay."""
    sim = Simulation(generate(halls=2100), rate_eps=3000.0, seed=7)
    start = datetime.now(UTC) - timedelta(hours=1)
    pool: dict[tuple[str, str], list[dict]] = {}
    for i in range(360):
        for stream, source, event in sim.step(start + timedelta(seconds=10 * (i + 1)), 10.0):
            if stream != "case":  # cases carry step order; replaying them out of order only makes rejections
                pool.setdefault((source, stream), []).append(event)
    return {k: v for k, v in pool.items() if len(v) >= 10}


async def _metric(session: aiohttp.ClientSession, base: str, name: str, label: str = "") -> float:
    async with session.get(f"{base}/metrics") as resp:
        text = await resp.text()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#") and label in line
    )


def _start_stack(data: Path, port: int) -> subprocess.Popen[bytes]:
    """`govpulse up` in a child process, its log in the data directory."""
    env = {**os.environ, "GOVPULSE_LOG_LEVEL": "warning"}
    # The child holds its own copy of the log's descriptor, so ours is closed once it has started.
    with (data / "govpulse.log").open("w") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "agents.cli.main", "up", "--data-dir", str(data), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )


async def main(minutes: float, rate: float, warmup_min: float) -> None:
    data = Path(tempfile.mkdtemp(prefix="govpulse-soak-"))
    print("pre-generating traffic...", flush=True)
    pool = _pool()
    keys = sorted(pool)
    tokens = issue_tokens(sorted({source for source, _ in keys}), data / "node_tokens.json")
    port = free_port()
    proc = await asyncio.to_thread(_start_stack, data, port)
    base = f"http://127.0.0.1:{port}"
    sent = errors = rejected = 0
    serial = itertools.count()
    stop = asyncio.Event()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            for _ in range(120):
                try:
                    async with session.get(f"{base}/healthz") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(1)
            print(f"stack up at {base}; posting {rate:.0f} events/s in batches of {BATCH}", flush=True)

            async def poster() -> None:
                nonlocal sent, errors, rejected
                next_at = time.monotonic()
                interval = BATCH / rate * WORKERS
                for n in itertools.count():
                    if stop.is_set():
                        return
                    source, stream = keys[n % len(keys)]
                    events = pool[(source, stream)]
                    now = datetime.now(UTC)
                    run = next(serial)
                    batch = [
                        {
                            **e,
                            "event_id": f"{e['event_id']}-s{run}-{i}",
                            "occurred_at": (now - timedelta(seconds=2)).isoformat(),
                            "sent_at": now.isoformat(),
                        }
                        for i, e in enumerate(itertools.islice(itertools.cycle(events), BATCH))
                    ]
                    try:
                        async with session.post(
                            f"{base}/api/v1/ingest/{stream}",
                            data=json.dumps({"source": source, "events": batch}),
                            headers={"Authorization": f"Bearer {tokens[source]}", "Content-Type": "application/json"},
                        ) as resp:
                            body = await resp.json()
                            if resp.status == 202:
                                sent += body["accepted"]
                                rejected += len(body["rejected"])
                            else:
                                errors += 1
                    except (aiohttp.ClientError, TimeoutError):
                        errors += 1
                    next_at += interval
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))

            tasks = [asyncio.create_task(poster()) for _ in range(WORKERS)]
            began = time.monotonic()
            last_t, last_sent = began, 0
            rss_after_warmup: float | None = None
            rows = []
            print(
                f"{'min':>5} {'sent/s':>8} {'stored/s':>9} {'lag':>8} {'rejected':>9} {'errors':>6} "
                f"{'rss MB':>7} {'broker':>7} {'redis':>6}",
                flush=True,
            )
            last_stored = 0.0
            while time.monotonic() - began < minutes * 60:
                await asyncio.sleep(30)
                now_t = time.monotonic()
                accepted = await _metric(session, base, "govpulse_gateway_events_total", 'verdict="accepted"')
                stored = await _metric(session, base, "govpulse_events_accepted_total")
                kids = _children(proc.pid)
                rss = _rss_mb(proc.pid)
                broker, redis = (_rss_mb(kids[0]), _rss_mb(kids[1])) if len(kids) >= 2 else (0.0, 0.0)
                elapsed_min = (now_t - began) / 60
                if rss_after_warmup is None and elapsed_min >= warmup_min:
                    rss_after_warmup = rss
                row = (
                    elapsed_min,
                    (sent - last_sent) / (now_t - last_t),
                    (stored - last_stored) / (now_t - last_t),
                    accepted - stored,
                    rejected,
                    errors,
                    rss,
                    broker,
                    redis,
                )
                rows.append(row)
                print(
                    f"{row[0]:5.1f} {row[1]:8.0f} {row[2]:9.0f} {row[3]:8.0f} {row[4]:9d} {row[5]:6d} "
                    f"{row[6]:7.0f} {row[7]:7.0f} {row[8]:6.0f}",
                    flush=True,
                )
                last_t, last_sent, last_stored = now_t, sent, stored
            stop.set()
            await asyncio.gather(*tasks)
            final = rows[-1]
            steady = [r for r in rows if r[0] >= warmup_min]
            mean_sent = sum(r[1] for r in steady) / len(steady)
            mean_stored = sum(r[2] for r in steady) / len(steady)
            print(
                f"\nsoak: {minutes:.0f} min at a target of {rate:.0f} events/s; after {warmup_min:.0f} min warm-up: "
                f"mean sent {mean_sent:.0f}/s, stored {mean_stored:.0f}/s, "
                f"final lag {final[3]:.0f} events, rejected {rejected}, errors {errors}; "
                f"RSS {rss_after_warmup:.0f} MB → {final[6]:.0f} MB ({(final[6] / rss_after_warmup - 1) * 100:+.1f}%)",
                flush=True,
            )
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 60)


WORKERS = 8

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.rate, args.warmup))
