"""Benchmark: what the govpulse process's memory does as chDB holds more rows, with and without memory caps.

Run: .venv/bin/python -m tests.bench.chdb_memory [--sizes 1,3,6,12] [--caps before,shipped] [--data DIR]
    [--trace-python]
Fills one chDB data directory through the project's writers (simulator events,
validated, turned into rows by connectors/clickhouse/rows.py, replayed with
fresh ids, offsets and times at 5,000 events/s up to now, spread over the
raw topics' 8 partitions and a new broker generation every 1.5 M events, as
renewals make them) to each size in turn, in a child process. After each size,
for each cap set, a fresh child process opens the directory as govpulse does
and runs what govpulse runs at start and after: migrations and generations,
the worker's dedup refill of every topic-partition, three rounds of the
shipped rules, 100,000 more events written in batches. It prints, per step,
VmRSS and VmHWM, chDB's own MemoryTracking and cache sizes, and with
--trace-python the Python heap (tracemalloc) and the RSS left once chDB's
allocator has handed back what it keeps (SYSTEM JEMALLOC PURGE). Cap sets:
`before` (no spilling, chDB's 5 GiB caches, partitions refilled as they come),
`hold`, `spill`, `shipped` (the settings' defaults). Not a test: nothing fails
on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agents.settings import Settings
from connectors.clickhouse.client import ClickHouse, chdb_cache_settings, spill_settings
from connectors.clickhouse.event_store import ClickHouseEventStore
from connectors.clickhouse.generations import current_generations
from connectors.clickhouse.migrations import migrate
from connectors.clickhouse.org_dims import CAMERA_COLUMNS, HALL_COLUMNS, camera_rows, hall_rows
from connectors.clickhouse.rows import ROW_BUILDERS, Row, ms
from streams.definitions import STREAMS
from streams.ingest.port import Origin
from streams.registry.generate import generate
from streams.simulator import Simulation
from streams.validation import Validator
from streams.workdays import SHANGHAI

RATE = 5000.0  # events/s, as in the soak
PARTITIONS = 8
GENERATION_EVERY = 1_500_000  # events between broker renewals at 5,000 events/s, about every 5 minutes
INSERT_ROWS = 20_000  # rows per INSERT, about what one write of the sink holds at this rate
MB = 1024 * 1024


@dataclass(frozen=True)
class Caps:
    """What a probe opens ClickHouse with, and whether the worker is told its partitions before they refill."""

    spill_mb: int  # GOVPULSE_CLICKHOUSE_SPILL_MB (0: no spilling)
    cache_mb: int | None  # GOVPULSE_CHDB_CACHE_MB (None: chDB's own 5 GiB caches)
    hold: bool  # IngestProcessor.hold: each partition refills its final share of the dedup budget


_SHIPPED = Settings()
#: The name of a cap set (--caps) -> what it changes. `before` is the process as it was; `shipped`, as it is now.
CAPS: dict[str, Caps] = {
    "before": Caps(spill_mb=0, cache_mb=None, hold=False),
    "hold": Caps(spill_mb=0, cache_mb=None, hold=True),
    "spill": Caps(spill_mb=_SHIPPED.clickhouse_spill_mb, cache_mb=None, hold=False),
    "shipped": Caps(spill_mb=_SHIPPED.clickhouse_spill_mb, cache_mb=_SHIPPED.chdb_cache_mb, hold=True),
}


def _vm() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


def _pool(registry: Any, seconds: int) -> dict[str, list[tuple[str, int, Row]]]:
    """`seconds` of simulated traffic as rows per table, each with the topic and partition its batch takes."""
    validator = Validator(registry)
    sim = Simulation(registry, rate_eps=RATE, seed=7)
    # A working morning, whatever the time now: halls are open, so every stream has traffic.
    start = datetime(2026, 3, 4, 9, 30, tzinfo=SHANGHAI)
    by_source: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for i in range(seconds // 10):
        for stream, source, event in sim.step(start + timedelta(seconds=10 * (i + 1)), 10.0):
            if stream != "case":
                by_source[(stream, source)].append(event)
    now = start + timedelta(seconds=seconds)
    pool: dict[str, list[tuple[str, int, Row]]] = defaultdict(list)
    for (stream, source), events in by_source.items():
        spec = STREAMS[stream]
        accepted, _ = validator.validate(spec, source, events, now)
        partition = zlib.crc32(source.encode()) % PARTITIONS
        origin = Origin(spec.topic, 1, partition, 0, now, now)
        for acc in accepted:
            table = spec.kind_of[type(acc.event)].table
            pool[table].append((spec.topic, partition, ROW_BUILDERS[table].rows([acc], origin)[0]))
    return pool


def _replay(pool: dict[str, list[tuple[str, int, Row]]], first: int, count: int, end_ms: int, total: int) -> Any:
    """Events `first`..`first + count` of a run of `total` ending at `end_ms`, as (table, rows) chunks."""
    tables = sorted(pool)
    weights = [len(pool[t]) for t in tables]
    shares = [w / sum(weights) for w in weights]
    n = first
    while n < first + count:
        chunk = min(INSERT_ROWS, first + count - n)
        for table, share in zip(tables, shares, strict=True):
            rows = pool[table]
            out = []
            for i in range(n, n + max(1, int(chunk * share))):
                _, partition, row = rows[i % len(rows)]
                generation = 1 + i // GENERATION_EVERY
                at = end_ms - int((total - i) * 1000 / RATE)
                # The run's index is the offset: offsets only need to rise within a topic-partition.
                out.append((f"{row[0]}-r{i}", *row[1:4], at, at, at, at, *row[8:-3], generation, partition, i))
            yield table, out
        n += chunk


def fill(path: Path, upto: int, total: int) -> None:
    """Add events to the directory until it holds `upto` of a run of `total` ending now."""
    ch = ClickHouse(f"chdb://{path}", "govpulse")
    ch.open()
    migrate(ch)
    have = sum(int(ch.query_sync(f"SELECT count() FROM {t}")[0][0]) for t in ROW_BUILDERS)
    registry = generate(halls=2100)
    if have == 0:
        now = datetime.now(UTC)
        ch._client.insert("org_halls", hall_rows(registry, now), column_names=list(HALL_COLUMNS))
        ch._client.insert("org_cameras", camera_rows(registry, now), column_names=list(CAMERA_COLUMNS))
    pool = _pool(registry, 180)
    end_ms = ms(datetime.now(UTC))
    for table, rows in _replay(pool, have, upto - have, end_ms, total):
        ch._client.insert(table, rows, column_names=list(ROW_BUILDERS[table].columns))
    ch.close()


class _NoOutputs:
    async def publish(self, notices: Any, active: Any) -> None:
        pass


async def _probe(path: Path, caps: Caps, step: Any) -> None:
    from prometheus_client import CollectorRegistry

    from streams.alerts.lifecycle import AlertBook
    from streams.ingest.processor import IngestProcessor
    from streams.metrics import Metrics
    from streams.rules.build import build as build_rules
    from streams.rules.reloader import RuleReloader
    from streams.rules.runner import RuleRunner

    registry = generate(halls=2100)
    pool = _pool(registry, 60)  # made first, so that every later step carries the same weight of it
    step("start")
    settings = Settings(data_dir=path.parent)
    engine = chdb_cache_settings(caps.cache_mb * MB) if caps.cache_mb is not None else None
    ch = ClickHouse(
        f"chdb://{path}", "govpulse", query_settings=spill_settings(caps.spill_mb * MB), engine_settings=engine
    )
    await ch.run(ch.open)
    await ch.run(migrate, ch)
    generations = await ch.run(current_generations, ch, [s.topic for s in STREAMS.values()], [])
    step("open")
    metrics = Metrics(CollectorRegistry())

    async def no_dead_letters(items: Any) -> None:
        pass

    processor = IngestProcessor(
        Validator(registry),
        ClickHouseEventStore(ch),
        no_dead_letters,
        metrics,
        dedup_max_ids=settings.dedup_max_ids,
        generations=generations,
    )
    held = [(spec.topic, partition) for spec, partition in itertools.product(STREAMS.values(), range(PARTITIONS))]
    if caps.hold:
        processor.hold(held)  # as the worker does when Faust assigns it partitions
    for topic, partition in held:
        await processor._recover(topic, partition)  # what the first message of each partition triggers
    step("dedup refill")
    book = AlertBook()
    runner = RuleRunner(book, _NoOutputs(), ch, metrics)
    rules = RuleReloader(settings.rules_path, metrics).load_initial()
    for n in range(3):
        runner.use(build_rules(rules, registry, book, datetime.now(UTC)))  # every indicator rule due again
        await runner.tick()
        step(f"rules round {n + 1}")
    have = sum([int((await ch.query(f"SELECT count() FROM {t}"))[0][0]) for t in ROW_BUILDERS])
    for table, rows in _replay(pool, have, 100_000, ms(datetime.now(UTC)), have + 100_000):
        await ch.insert(table, rows, ROW_BUILDERS[table].columns)
    step("100k written")
    await asyncio.to_thread(ch.close)


def probe(path: Path, cap: str, trace_python: bool) -> None:
    """In this (fresh) process: open the directory as govpulse does, run its work, print one JSON line per step."""
    if trace_python:
        tracemalloc.start()  # costs memory and time of its own: RSS figures of such a run are higher
    ch_ref: list[ClickHouse] = []

    def step(name: str) -> None:
        rss, hwm = _vm()
        native = {}
        if ch_ref and ch_ref[0]._client is not None:
            native = dict(
                ch_ref[0].query_sync(
                    "SELECT metric, value FROM system.metrics WHERE metric IN ('MemoryTracking', 'MarkCacheBytes',"
                    " 'PrimaryIndexCacheBytes', 'UncompressedCacheBytes', 'QueryCacheBytes')"
                )
            )
        py = tracemalloc.get_traced_memory()[0] / 2**20 if trace_python else 0.0
        purged = rss
        if trace_python and ch_ref and ch_ref[0]._client is not None:
            # What of the RSS is memory chDB's allocator freed but kept: handed back, it is no longer resident.
            ch_ref[0].command_sync("SYSTEM JEMALLOC PURGE")
            purged = _vm()[0]
        print(json.dumps({"step": name, "rss": rss, "hwm": hwm, "py": py, "purged": purged, **native}), flush=True)

    original_open = ClickHouse.open

    def open_and_keep(self: ClickHouse) -> None:
        original_open(self)
        ch_ref.append(self)

    ClickHouse.open = open_and_keep  # type: ignore[method-assign]  # the probe reads chDB's metrics on the same client
    asyncio.run(_probe(path, CAPS[cap], step))


def _child(*args: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "tests.bench.chdb_memory", *args], check=True, capture_output=True, text=True
    )
    return out.stdout.splitlines()


def main(sizes: list[float], caps: list[str], data: Path, trace_python: bool) -> None:
    path = data / "clickhouse"
    total = int(max(sizes) * 1_000_000)
    print(f"data in {path}; {RATE:.0f} events/s, {PARTITIONS} partitions, a generation every {GENERATION_EVERY:,}")
    header = f"{'M rows':>6} {'caps':<10} {'step':<14} {'RSS MB':>7} {'HWM MB':>7} {'py MB':>6} {'chdb MB':>8}"
    print(header + f" {'marks MB':>8} {'pk MB':>6}")
    for size in sizes:
        started = time.monotonic()
        _child("fill", str(path), str(int(size * 1_000_000)), str(total))
        filled = time.monotonic() - started
        for cap in caps:
            for line in _child("probe", str(path), cap, "trace" if trace_python else "-"):
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                print(
                    f"{size:>6g} {cap:<10} {r['step']:<14} {r['rss']:>7.0f} {r['hwm']:>7.0f} {r['py']:>6.0f}"
                    f" {r.get('MemoryTracking', 0) / 2**20:>8.0f} {r.get('MarkCacheBytes', 0) / 2**20:>8.1f}"
                    f" {r.get('PrimaryIndexCacheBytes', 0) / 2**20:>6.1f}",
                    flush=True,
                )
        print(f"  (filled to {size:g} M in {filled:.0f} s)", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "fill":
        fill(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "probe":
        probe(Path(sys.argv[2]), sys.argv[3], sys.argv[4] == "trace")
    else:
        parser = argparse.ArgumentParser()
        parser.add_argument("--sizes", default="1,3,6,12", help="million events, ascending")
        parser.add_argument("--caps", default=",".join(CAPS), help=f"cap sets to probe: {', '.join(CAPS)}")
        parser.add_argument("--data", type=Path, default=None, help="data directory to fill (kept); default: new")
        parser.add_argument("--trace-python", action="store_true", help="also measure the Python heap (tracemalloc)")
        args = parser.parse_args()
        data = args.data or Path(tempfile.mkdtemp(prefix="govpulse-chdbmem-"))
        data.mkdir(parents=True, exist_ok=True)
        main([float(s) for s in args.sizes.split(",")], args.caps.split(","), data, args.trace_python)
