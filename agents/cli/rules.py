"""`govpulse rules check [PATH]` validates rule files, one line per problem; `govpulse rules backtest` replays them
over the stored history; `govpulse rules score` replays one series from a CSV file through a spike rule."""

from __future__ import annotations

import argparse
import asyncio
import csv
import math
import re
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO, get_args

from agents.cli import Subcommands
from agents.settings import Settings
from streams.indicators.defined_loader import read_defined
from streams.indicators.installed import BUILT_INS, install, installed
from streams.rules.loader import read_rules
from streams.rules.rule_config import Domain
from streams.rules.schema import RULE_TYPES
from streams.workdays import SHANGHAI

#: Largest series file `rules score` reads, and most rows: a year of 5-minute windows is 105,120.
MAX_SERIES_BYTES = 64 * 1024 * 1024
MAX_SERIES_ROWS = 1_000_000
#: Bad rows reported before `rules score` stops listing them.
MAX_ROW_ERRORS = 20
_EPOCH = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


def add_parser(sub: Subcommands) -> None:
    rules = sub.add_parser("rules", help="alert rules")
    rules_sub = rules.add_subparsers(dest="rules_cmd", required=True)
    rules_check = rules_sub.add_parser("check", help="validate alert rule files: one line per problem, exit 1 if any")
    rules_check.add_argument(
        "path", nargs="?", default="alert_rules/", help="a rule file, or a folder of *.yaml (default alert_rules/)"
    )
    rules_check.add_argument(
        "--indicators",
        help="the defined indicators the rules may read, checked first (default: the indicators folder beside them)",
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
    rules_score = rules_sub.add_parser(
        "score",
        help="replay a series through a spike rule, offline: each window's score and where alerts start",
        description="Replay a series through a spike rule as it would run live (its detector, for, cooldown and"
        " clear) and write timestamp,value,score,firing: score 0-1 as the rule judged the window (0 where it could"
        " not fire), firing 1 where an alert starts. Needs no running stack.",
    )
    rules_score.add_argument(
        "series",
        help="CSV of timestamp,value rows, one complete window each, in time order (a header line is optional);"
        " timestamps ISO 8601, with a zone or else read as Asia/Shanghai time, or epoch seconds;"
        f" at most {MAX_SERIES_ROWS:,} rows and {MAX_SERIES_BYTES // 2**20} MB",
    )
    rules_score.add_argument("--rule", required=True, metavar="FILE:RULE_ID", help="a spike rule of a rule file")
    rules_score.add_argument("--out", help="write the scored rows here (default: standard output)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.rules_cmd == "backtest":
        return asyncio.run(backtest(args, settings))
    if args.rules_cmd == "score":
        return score(Path(args.series), args.rule, Path(args.out) if args.out else None)
    return check(args.path, indicators=args.indicators)


def indicators_beside(path: str | Path) -> Path:
    """The defined indicators of a rules folder (its `indicators/`), or of the folder of a rule file."""
    path = Path(path)
    return (path if path.is_dir() else path.parent) / "indicators"


def check(path: str | Path = "alert_rules", out: TextIO | None = None, indicators: str | Path | None = None) -> int:
    """Print every problem of the defined indicators and the rules (exit code 1) or a summary (exit code 0).

    The indicators are checked first and the valid ones are in the catalogue while the rules are, as in a
    running govpulse; the catalogue is put back as it was afterwards.
    """
    out = out or sys.stdout
    previous = installed()
    defined, errors = read_defined(Path(indicators) if indicators else indicators_beside(path), BUILT_INS)
    install(defined)
    try:
        rules, rule_errors = read_rules(path)
    finally:
        install(previous)
    errors += rule_errors
    if errors:
        for line in errors:
            print(line, file=out)
        all_files = (*defined.files, *rules.files)
        files = sum(1 for f in all_files if any(line.startswith(f"{f}:") for line in errors)) or 1
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
    if defined.files:
        kinds = Counter(i.family for i in defined.indicators.values())
        n_files = len(defined.files)
        print(
            f"{len(defined)} defined indicators in {n_files} file{'s' if n_files != 1 else ''} OK: "
            + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())),
            file=out,
        )
    return 0


async def backtest(args: argparse.Namespace, settings: Settings) -> int:
    """What the rules would have fired over the stored history, episode by episode, and which alerts flapped."""
    from agents.cli.store import open_store
    from streams.indicators.defined_loader import DefinedError
    from streams.indicators.installed import load as load_indicators
    from streams.registry.csv_io import read_csv_dir
    from streams.registry.generate import generate
    from streams.rules.backtest import backtest as replay
    from streams.rules.loader import RuleError, load_rules

    try:
        load_indicators(indicators_beside(args.path))
        rules = load_rules(args.path)
    except (DefinedError, RuleError) as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    start, end = datetime.fromisoformat(args.start), datetime.fromisoformat(args.end)
    if start.tzinfo is None or end.tzinfo is None:
        print("--from and --to need a zone, e.g. 2026-11-20T09:00:00+08:00", file=sys.stderr)
        return 2
    ch = await open_store(settings)
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
    for spike in report.spikes:
        print(f"spike {spike.key}: {spike.armed} of {spike.series} series armed at the end")
    print(f"{len(report.episodes)} firing episode(s), {len(flaps)} flapping alert(s) between {start} and {end}")
    return 0


class SeriesError(ValueError):
    """A series file that cannot be scored; `errors` holds one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


def _timestamp(text: str) -> datetime:
    if _EPOCH.match(text):
        try:
            return datetime.fromtimestamp(float(text), UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"epoch seconds {text} are out of range") from None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is neither ISO 8601 nor epoch seconds") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=SHANGHAI)


def _value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"value {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"value {text!r} is not a finite number; leave a window without a value out")
    return value


def read_series(path: Path) -> list[tuple[datetime, float]]:
    """The (time, value) rows of a series file, checked; SeriesError naming the line of each bad row."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SeriesError([f"{path}: cannot be read: {exc.strerror or exc}"]) from None
    if size > MAX_SERIES_BYTES:
        mb = MAX_SERIES_BYTES // 2**20
        raise SeriesError([f"{path}: {size / 2**20:.0f} MB, more than the {mb} MB rules score reads; split it"])
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SeriesError([f"{path}: cannot be read: {getattr(exc, 'strerror', None) or exc}"]) from None
    rows: list[tuple[datetime, float]] = []
    errors: list[str] = []
    first = True
    for line, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        fields = [f.strip() for f in fields]
        header, first = first and _is_header(fields), False
        if header:
            continue
        try:
            if len(fields) != 2:
                raise ValueError(f"expected 2 fields, timestamp,value; got {len(fields)}")
            at, value = _timestamp(fields[0]), _value(fields[1])
            if rows and at <= rows[-1][0]:
                raise ValueError(f"{at.isoformat()} does not come after the row before, {rows[-1][0].isoformat()}")
        except ValueError as exc:
            errors.append(f"{path}: line {line}: {exc}")
            if len(errors) >= MAX_ROW_ERRORS:
                errors.append(f"{path}: stopped after {MAX_ROW_ERRORS} bad rows")
                break
            continue
        rows.append((at, value))
        if len(rows) > MAX_SERIES_ROWS:
            raise SeriesError([f"{path}: more than {MAX_SERIES_ROWS:,} rows; split the series"])
    if errors:
        raise SeriesError(errors)
    if not rows:
        raise SeriesError([f"{path}: no rows; write timestamp,value lines"])
    return rows


def _is_header(fields: list[str]) -> bool:
    """Column names, not a row: two fields, neither of which reads as what its column holds."""
    if len(fields) != 2:
        return False
    for parse, text in ((_timestamp, fields[0]), (_value, fields[1])):
        try:
            parse(text)
        except ValueError:
            continue
        return False
    return True


def score(series: Path, rule_ref: str, out_path: Path | None = None) -> int:
    """Write timestamp,value,score,firing for every row of `series` replayed through the rule; 1 on any problem."""
    from streams.rules.loader import RuleError
    from streams.rules.spike_replay import load_rule, replay_series

    file, _, rule_id = rule_ref.rpartition(":")
    if not file or not rule_id:
        print(
            f"--rule {rule_ref!r}: write FILE:RULE_ID, e.g. alert_rules/data_quality.yaml:late_events_surge",
            file=sys.stderr,
        )
        return 1
    try:
        rule = load_rule(Path(file), rule_id)
        points = read_series(series)
    except (RuleError, SeriesError) as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 1
    rows = replay_series(rule, points)
    out = sys.stdout if out_path is None else out_path.open("w", encoding="utf-8", newline="")
    try:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["timestamp", "value", "score", "firing"])
        for row in rows:
            writer.writerow([row.at.isoformat(), repr(row.value), f"{row.score:.6f}", int(row.firing)])
    finally:
        if out is not sys.stdout:
            out.close()
    return 0
