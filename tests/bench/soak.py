"""Soak: the embedded stack under steady load for a long time; is memory flat, is anything lost or doubled?

Run: .venv/bin/python -m tests.bench.soak [--minutes 120] [--rate 5000] [--warmup 3] [--plot soak.png]
Starts `govpulse up` as its own process (so the load generator does not share
its event loop), posts simulator traffic replayed with fresh ids and times
through the gateway at --rate events/s, and every 30 s prints the rate
achieved, the worker's lag (accepted by the gateway, not yet stored),
rejections and errors, the RSS of govpulse and of its broker and Redis, the
spool's size on disk, and how often the broker was renewed. At the end: each
process's RSS spread over the last hour (or the last half of a shorter run),
the broker's peak, and lost and doubled events: ClickHouse is asked for its
row count, distinct ids and a checksum over them, against the ids the
gateway answered 202 for. The samples are drawn as a PNG (--plot). Not a
test: nothing fails on a slow machine; it prints what it saw.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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

#: Checksums wrap at 64 bits, as ClickHouse's sum of UInt64 does.
MASK = (1 << 64) - 1


def id_hash(event_id: str) -> int:
    """The first 8 bytes of the id's SHA-256, little-endian: what ClickHouse's CHECKSUM_SQL sums per id."""
    return int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:8], "little")


CHECKSUM_SQL = "reinterpretAsUInt64(substring(SHA256(event_id), 1, 8))"
TABLES = ("queue_events", "window_events", "evaluations", "node_heartbeats", "camera_probes")


def _stored(data: Path) -> tuple[int, int, int]:
    """(rows, distinct ids, checksum) over every event table, read in a child process (chDB: one per path)."""
    script = f"""
import json
from connectors.clickhouse.client import ClickHouse
ch = ClickHouse("chdb://{data / "clickhouse"}", "govpulse")
ch.open()
rows = ids = total = 0
for t in {TABLES!r}:
    i, c = ch.query_sync(f"SELECT count(), sum(h) FROM (SELECT DISTINCT event_id, {CHECKSUM_SQL} AS h FROM {{t}})")[0]
    rows += int(ch.query_sync(f"SELECT count() FROM {{t}}")[0][0])
    ids += int(i)
    total += int(c)
print(json.dumps([rows, ids, total]))
"""
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=900)
    rows, ids, total = json.loads(out.stdout.strip().splitlines()[-1])
    return rows, ids, total & MASK


def _spool_mb(data: Path) -> float:
    files = list((data / "spool").glob("gateway.sqlite3*"))
    return sum(f.stat().st_size for f in files if f.exists()) / (1024 * 1024)


def _renewals(data: Path) -> int:
    log = data / "govpulse.log"
    return log.read_text(errors="replace").count('"process_renewing"') if log.exists() else 0


def _plot(rows: list[tuple[float, ...]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(9, 4.5), dpi=110)
    for index, label in (
        (6, "govpulse (worker, gateway, center)"),
        (7, "embedded broker"),
        (8, "Redis"),
        (9, "spool on disk"),
    ):
        ax.plot(minutes, [r[index] for r in rows], label=label)
    ax.set_xlabel("minutes")
    ax.set_ylabel("MB (RSS; spool: file size)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


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


async def main(minutes: float, rate: float, warmup_min: float, plot: Path) -> None:
    data = Path(tempfile.mkdtemp(prefix="govpulse-soak-"))
    print("pre-generating traffic...", flush=True)
    pool = _pool()
    keys = sorted(pool)
    tokens = issue_tokens(sorted({source for source, _ in keys}), data / "node_tokens.json")
    port = free_port()
    proc = await asyncio.to_thread(_start_stack, data, port)
    base = f"http://127.0.0.1:{port}"
    sent = errors = rejected = 0
    checksum = 0
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
                nonlocal sent, errors, rejected, checksum
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
                                refused = {r["event_id"] for r in body["rejected"]}
                                for e in batch:
                                    if e["event_id"] not in refused:
                                        checksum = (checksum + id_hash(e["event_id"])) & MASK
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
                f"{'rss MB':>7} {'broker':>7} {'redis':>6} {'spool':>6} {'renewed':>7}",
                flush=True,
            )
            last_stored = 0.0
            # A renewal starts the counters of the new process at 0: what the old one counted is carried here.
            stored_base = raw_stored_last = 0.0
            while time.monotonic() - began < minutes * 60:
                await asyncio.sleep(30)
                now_t = time.monotonic()
                accepted = await _metric(session, base, "govpulse_gateway_events_total", 'verdict="accepted"')
                raw_stored = await _metric(session, base, "govpulse_events_accepted_total")
                if raw_stored < raw_stored_last:
                    stored_base += raw_stored_last
                raw_stored_last = raw_stored
                stored = stored_base + raw_stored
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
                    max(0.0, accepted - raw_stored),
                    rejected,
                    errors,
                    rss,
                    broker,
                    redis,
                    _spool_mb(data),
                    _renewals(data),
                )
                rows.append(row)
                print(
                    f"{row[0]:5.1f} {row[1]:8.0f} {row[2]:9.0f} {row[3]:8.0f} {row[4]:9d} {row[5]:6d} "
                    f"{row[6]:7.0f} {row[7]:7.0f} {row[8]:6.0f} {row[9]:6.1f} {row[10]:7d}",
                    flush=True,
                )
                last_t, last_sent, last_stored = now_t, sent, stored
            stop.set()
            await asyncio.gather(*tasks)
            # The last batches answered 202 are stored before the count.
            for _ in range(600):
                accepted = await _metric(session, base, "govpulse_gateway_events_total", 'verdict="accepted"')
                if await _metric(session, base, "govpulse_events_accepted_total") >= accepted:
                    break
                await asyncio.sleep(1)
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
            tail_from = max(warmup_min, minutes - 60) if minutes > 60 else minutes / 2
            tail = [r for r in rows if r[0] >= tail_from]
            for index, name in ((6, "govpulse"), (7, "broker"), (8, "redis"), (9, "spool")):
                low, high = min(r[index] for r in tail), max(r[index] for r in tail)
                spread = (high / low - 1) * 100 if low else float("inf")
                print(f"{name}: {low:.0f}-{high:.0f} MB from minute {tail_from:.0f} (spread {spread:.1f}%)", flush=True)
            print(f"broker peak {max(r[7] for r in rows):.0f} MB; renewed {final[10]} times", flush=True)
            title = f"soak: {minutes:.0f} min, {mean_sent:.0f} events/s sent, {mean_stored:.0f}/s stored"
    finally:
        proc.terminate()
        await asyncio.to_thread(proc.wait, 120)
    stored_rows, stored_ids, stored_sum = await asyncio.to_thread(_stored, data)
    print(
        f"answered 202 for {sent} events (checksum {checksum:016x}); stored {stored_rows} rows / {stored_ids} ids "
        f"(checksum {stored_sum:016x}); lost {sent - stored_ids}, doubled {stored_rows - stored_ids}; "
        f"checksums {'equal' if stored_sum == checksum else 'DIFFER'}",
        flush=True,
    )
    _plot(rows, plot, title)
    print(f"memory curve: {plot}", flush=True)


WORKERS = 8

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=10_000.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--plot", type=Path, default=Path("soak-memory.png"))
    args = parser.parse_args()
    asyncio.run(main(args.minutes, args.rate, args.warmup, args.plot))
