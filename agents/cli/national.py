"""`govpulse national export`: the period's 好差评 upload set for the national platform, checked, as files."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.cli import Subcommands
from agents.settings import Settings
from streams.national.checks import DEFAULT_MAX_DELAY
from streams.national.upload import write_set
from streams.periods import Period, PeriodError, parse_period

if TYPE_CHECKING:
    from connectors.clickhouse.client import ClickHouse


def add_parser(sub: Subcommands) -> None:
    national = sub.add_parser("national", help="the 好差评 upload to the national platform")
    national_sub = national.add_subparsers(dest="national_cmd", required=True)
    export = national_sub.add_parser(
        "export",
        help="write the period's evaluations and case steps that pass the quality checks, the failures and the pass"
        " rates, as JSON lines files (docs/schemas/national_upload.v1.schema.json)",
    )
    export.add_argument(
        "--period", required=True, help="2026-11, 2026Q4, 2026H2, 2026 or FROM..TO (dates, Asia/Shanghai days)"
    )
    export.add_argument("--out", required=True, help="folder for the files (written over)")
    export.add_argument(
        "--max-delay-days",
        type=float,
        default=DEFAULT_MAX_DELAY.total_seconds() / 86400,
        help=f"a record reported later than this after it occurred fails as late (default {DEFAULT_MAX_DELAY.days})",
    )
    export.add_argument(
        "--data-dir", help="the embedded stack's data dir (stop the stack first: chDB is one process's)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        period = parse_period(args.period)
    except PeriodError as exc:
        print(exc, file=sys.stderr)
        return 2
    return asyncio.run(_export_from_settings(settings, period, Path(args.out), timedelta(days=args.max_delay_days)))


async def _export_from_settings(settings: Settings, period: Period, out: Path, max_delay: timedelta) -> int:
    from agents.cli.store import open_store

    ch = await open_store(settings)
    try:
        result = await export(ch, period, out, max_delay, store=True)
    finally:
        await asyncio.to_thread(ch.close)
    print_summary(result)
    return 0


async def export(
    ch: ClickHouse,
    period: Period,
    out: Path,
    max_delay: timedelta = DEFAULT_MAX_DELAY,
    store: bool = False,
) -> dict[str, Any]:
    """Read, check and write the period's set; return the summary written beside the files.

    With `store`, every record's verdict is also kept, for the pass-rate indicator.
    """
    from connectors.clickhouse.national_checks import check_period

    now = datetime.now(UTC)
    checked = await check_period(ch, period, max_delay, now, store=store)
    return write_set(out, checked, period, now)


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def print_summary(result: dict[str, Any], out: Any = None) -> None:
    out = out or sys.stdout
    print(
        f"{result['period']}: {result['records']} records, {result['passed']} passed, {result['failed']} failed,"
        f" pass rate {_rate(result['pass_rate'])}",
        file=out,
    )
    for code, n in result["failures_by_reason"].items():
        print(f"  {code:<30} {n}", file=out)
    print("pass rate by city (质检通过率):", file=out)
    for row in result["by_city"]:
        print(f"  {row['city_code']:<10} {row['passed']:>7}/{row['records']:<7} {_rate(row['pass_rate'])}", file=out)
    print("pass rate by department:", file=out)
    for row in result["by_dept"]:
        print(f"  {row['dept_id']:<16} {row['passed']:>7}/{row['records']:<7} {_rate(row['pass_rate'])}", file=out)
