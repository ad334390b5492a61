"""How long the report schedule takes for one period, report by report, on a stopped stack's data dir.

    python -m tests.bench.reports --data-dir DIR --period 2026-11 [--out DIR]

Runs what the schedule runs when a period closes (the province's, the departments' and each city's report, as
XLSX and PDF, rankings shared within the period) and prints the seconds each took and the total.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path
from typing import Any

from agents import reporting
from agents.settings import Settings
from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.migrations import migrate
from streams.indicators.installed import load as load_defined
from streams.periods import parse_period
from streams.registry.snapshot import read_snapshot
from streams.reports.schedule import jobs


async def main(data_dir: Path, label: str, out: Path) -> None:
    settings = Settings(roles="none", data_dir=data_dir)
    load_defined(settings.indicators_path)
    registry = read_snapshot(settings.registry_snapshot_path)
    ch = ClickHouse(f"chdb://{settings.chdb_path}", settings.clickhouse_database)
    await ch.run(ch.open)
    await ch.run(migrate, ch)
    period = parse_period(label)
    rankings: dict[Any, Any] = {}
    files = 0
    began = time.monotonic()
    print(f"{'report':<34} {'make s':>7} {'xlsx s':>7} {'pdf s':>7}")
    try:
        for i, job in enumerate(jobs(period, [c.code for c in registry.cities()])):
            t0 = time.monotonic()
            report = await reporting.make_report(settings, ch, registry, period, job.level, job.city, i == 0, rankings)
            t1 = time.monotonic()
            await reporting.write(report, "xlsx", out)
            t2 = time.monotonic()
            await reporting.write(report, "pdf", out)
            files += 2
            t3 = time.monotonic()
            name = f"{job.level}{'' if job.city is None else f' {job.city}'}"
            print(f"{name:<34} {t1 - t0:>7.1f} {t2 - t1:>7.1f} {t3 - t2:>7.1f}")
    finally:
        await asyncio.to_thread(ch.close)
    print(f"period {label}: {files} files in {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--period", required=True)
    parser.add_argument("--out", type=Path, default=Path("bench-out/reports"))
    args = parser.parse_args()
    asyncio.run(main(args.data_dir, args.period, args.out))
