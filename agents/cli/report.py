"""`govpulse report`: a period's statistics report (统计报表) as XLSX and/or PDF, read from ClickHouse directly.

With the embedded stack, chDB belongs to one process: stop `govpulse up` first, or download the report from the
running monitoring center (GET /api/v1/reports). The registry comes from the embedded stack's snapshot, or from
the registry topic of a Kafka deployment.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from agents.cli import Subcommands
from agents.settings import Settings
from streams.periods import PeriodError, parse_period
from streams.registry import Registry
from streams.reports.tables import LEVELS


def add_parser(sub: Subcommands) -> None:
    report = sub.add_parser("report", help="write a period's statistics report (XLSX, PDF)")
    report.add_argument(
        "--period", required=True, help="2026-11, 2026Q4, 2026H2, 2026 or FROM..TO (dates, Asia/Shanghai days)"
    )
    report.add_argument("--level", required=True, choices=LEVELS)
    report.add_argument("--city", type=int, help="GB/T 2260 code: required by --level city, narrows --level dept")
    report.add_argument(
        "--format", dest="formats", action="append", choices=("xlsx", "pdf"), help="repeat for both (default both)"
    )
    report.add_argument("--out", default=".", help="folder for the files (default: here)")
    report.add_argument("--data-dir", help="the embedded stack's data dir (stop the stack first)")


async def _registry(settings: Settings) -> Registry:
    from streams.registry.snapshot import read_snapshot

    if settings.embedded_kafka:
        if not settings.registry_snapshot_path.exists():
            raise SystemExit(f"error: no registry at {settings.registry_snapshot_path}: run govpulse up once first")
        return read_snapshot(settings.registry_snapshot_path)
    from connectors.kafka.registry_topic import read_registry
    from connectors.kafka.topics import bootstrap_servers

    return await read_registry(bootstrap_servers(settings.kafka_dsn))


async def _report(args: argparse.Namespace, settings: Settings) -> int:
    from agents.cli.store import open_store
    from agents.reporting import make_report, write
    from streams.indicators.installed import load as load_defined
    from streams.reports.build import ReportError

    period = parse_period(args.period)
    load_defined(settings.indicators_path)
    registry = await _registry(settings)
    ch = await open_store(settings)
    try:
        try:
            report = await make_report(settings, ch, registry, period, args.level, args.city)
        except ReportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for fmt in args.formats or ("xlsx", "pdf"):
            path = await write(report, fmt, Path(args.out))
            print(path)
    finally:
        await asyncio.to_thread(ch.close)
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.reports.pdf import PdfFontMissing
    from streams.indicators.defined_loader import DefinedError
    from streams.indicators.scorecard import ScorecardError
    from streams.reports.spec import ReportSpecError

    try:
        return asyncio.run(_report(args, settings))
    except (PeriodError, ReportSpecError, ScorecardError, DefinedError, PdfFontMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
