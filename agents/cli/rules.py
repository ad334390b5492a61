"""`govpulse rules check [PATH]` validates rule files, one line per problem; `govpulse rules backtest` replays them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO, get_args

from agents.cli import Subcommands
from agents.settings import Settings
from streams.rules.loader import read_rules
from streams.rules.rule_config import Domain
from streams.rules.schema import RULE_TYPES


def add_parser(sub: Subcommands) -> None:
    rules = sub.add_parser("rules", help="alert rules")
    rules_sub = rules.add_subparsers(dest="rules_cmd", required=True)
    rules_check = rules_sub.add_parser("check", help="validate alert rule files: one line per problem, exit 1 if any")
    rules_check.add_argument(
        "path", nargs="?", default="alert_rules/", help="a rule file, or a folder of *.yaml (default alert_rules/)"
    )
    rules_bt = rules_sub.add_parser(
        "backtest", help="replay rules over the ClickHouse history: when they would have fired"
    )
    rules_bt.add_argument("path", help="a rule file or folder")
    rules_bt.add_argument("--from", dest="start", required=True, help="ISO 8601 with zone")
    rules_bt.add_argument("--to", dest="end", required=True, help="ISO 8601 with zone")
    rules_bt.add_argument("--step", type=float, default=60.0, help="seconds between evaluations (default 60)")
    rules_bt.add_argument(
        "--data-dir", help="the embedded stack's data dir (stop the stack first: chDB is one process's)"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.rules_cmd == "backtest":
        return asyncio.run(backtest(args, settings))
    return check(args.path)


def check(path: str | Path = "alert_rules", out: TextIO | None = None) -> int:
    """Print every problem (exit code 1) or a summary of the valid rules (exit code 0)."""
    out = out or sys.stdout
    rules, errors = read_rules(path)
    if errors:
        for line in errors:
            print(line, file=out)
        files = sum(1 for f in rules.files if any(line.startswith(f"{f}:") for line in errors)) or 1
        print(
            f"{len(errors)} error{'s' if len(errors) != 1 else ''} in {files} file{'s' if files != 1 else ''}", file=out
        )
        return 1
    types = Counter(rule.type for rule in rules)
    domains = Counter(rule.domain for rule in rules)
    disabled = sum(1 for rule in rules if not rule.enabled)
    print(
        f"{len(rules)} rules in {len(rules.files)} files OK" + (f" ({disabled} disabled)" if disabled else ""), file=out
    )
    print("  by type:   " + ", ".join(f"{name} {types[name]}" for name in RULE_TYPES if types[name]), file=out)
    print(
        "  by domain: " + ", ".join(f"{name} {domains[name]}" for name in get_args(Domain) if domains[name]), file=out
    )
    return 0


async def backtest(args: argparse.Namespace, settings: Settings) -> int:
    """What the rules would have fired over the stored history, episode by episode, and which alerts flapped."""
    from connectors.clickhouse.client import ClickHouse
    from connectors.clickhouse.migrations import migrate
    from streams.registry.csv_io import read_csv_dir
    from streams.registry.generate import generate
    from streams.rules.backtest import backtest as replay
    from streams.rules.loader import RuleError, load_rules

    try:
        rules = load_rules(args.path)
    except RuleError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
    if start.tzinfo is None or end.tzinfo is None:
        print("--from and --to need a zone, e.g. 2026-11-20T09:00:00+08:00", file=sys.stderr)
        return 2
    dsn = f"chdb://{settings.chdb_path}" if settings.chdb_path else settings.clickhouse_dsn
    ch = ClickHouse(dsn, settings.clickhouse_database)
    await ch.run(ch.open)
    await ch.run(migrate, ch)  # an older data dir may predate some indicator tables
    registry = read_csv_dir(settings.registry_dir) if settings.registry_dir else generate(halls=settings.registry_halls)
    try:
        report = await replay(rules, ch, registry, start, end, timedelta(seconds=args.step))
    finally:
        await asyncio.to_thread(ch.close)
    for ep in report.episodes:
        resolved = ep.resolved_at.isoformat() if ep.resolved_at else "still firing"
        group = ",".join(f"{k}={v}" for k, v in sorted(ep.group.items()))
        print(f"{ep.rule_id:<28} {group:<40} fired {ep.fired_at.isoformat()}  resolved {resolved}")
    flaps = report.flaps()
    for (rule_id, labels), n in sorted(flaps.items()):
        print(f"flapping: {rule_id} {dict(labels)} fired again {n} time(s) after resolving")
    print(f"{len(report.episodes)} firing episode(s), {len(flaps)} flapping alert(s) between {start} and {end}")
    return 0
