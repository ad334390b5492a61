"""`govpulse manual import FILE` and `govpulse manual history INDICATOR`: indicator values entered by hand.

These work on the store directly (a ClickHouse server, or a stopped embedded
stack's chDB under --data-dir); with the stack running in embedded mode use the
monitoring center's POST /api/v1/manual-values instead, since chDB is one
process's. Whoever runs the command can write the store anyway, so by default
the import is checked as the whole province's and recorded under `--by` (the OS
user unless given) with role `cli`; `--as USER` checks it as that
monitoring-center user instead (a city operator's rows must be of their city)
and records it under their name and role.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents.cli import Subcommands
from agents.settings import Settings
from streams.auth.access import Forbidden, Principal
from streams.auth.users import UserStore
from streams.indicators.defined_loader import DefinedError
from streams.manual.checks import ManualCatalog
from streams.manual.model import DEFAULT_LIMITS, FileRefused
from streams.manual.upload import Upload, prepare_upload
from streams.registry import Registry

#: The role recorded for an import made at the command line rather than by a monitoring-center user.
CLI_ROLE = "cli"


def add_parser(sub: Subcommands) -> None:
    manual = sub.add_parser("manual", help="indicator values entered by hand (kind: manual in alert_rules/indicators)")
    manual_sub = manual.add_subparsers(dest="manual_cmd", required=True)
    imp = manual_sub.add_parser(
        "import",
        help="check and store a CSV or XLSX of values (columns 指标/indicator, 对象类型/entity_kind, 对象/entity,"
        " 期间/period, 值/value, 备注/note); any bad row stores nothing unless --partial",
    )
    imp.add_argument("file")
    imp.add_argument("--partial", action="store_true", help="store the good rows of a file that has bad ones")
    who = imp.add_mutually_exclusive_group()
    who.add_argument("--as", dest="as_user", metavar="USER", help="check and record as this monitoring-center user")
    who.add_argument("--by", metavar="NAME", help="the name recorded as uploader (default: the OS user)")
    imp.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    history = manual_sub.add_parser("history", help="the current values of an indicator and the ones they superseded")
    history.add_argument("indicator")
    history.add_argument("--entity", default="", help="one city code or department id")
    history.add_argument("--json", action="store_true")
    for p in (imp, history):
        p.add_argument("--data-dir", help="the embedded stack's data dir (stop the stack first: chDB is one process's)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.manual_cmd == "history":
        return asyncio.run(_history(args, settings))
    try:
        uploader = _uploader(args, settings)
    except (LookupError, Forbidden) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        upload = _prepare(args, settings, uploader)
    except DefinedError as exc:
        print("\n".join(exc.errors), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {args.file}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except FileRefused as exc:
        print(f"refused ({exc.reason}): {exc.detail}; nothing was stored", file=sys.stderr)
        return 1
    return asyncio.run(_store(args, settings, upload))


def _prepare(args: argparse.Namespace, settings: Settings, uploader: Principal) -> Upload:
    """Read and check the file (as the chosen uploader, against the defined indicators and the registry)."""
    from streams.indicators import installed
    from streams.indicators.catalog import INDICATORS

    installed.load(settings.indicators_path)
    path = Path(args.file)
    if path.stat().st_size > DEFAULT_LIMITS.max_bytes:
        raise FileRefused("too_large", f"{path.name} is larger than {DEFAULT_LIMITS.max_bytes} bytes")
    return prepare_upload(
        path.read_bytes(),
        path.name,
        ManualCatalog.of(INDICATORS),
        registry_of(settings),
        uploader,
        datetime.now(UTC),
        partial=args.partial,
    )


def _uploader(args: argparse.Namespace, settings: Settings) -> Principal:
    if args.as_user:
        user = UserStore(settings.users_path).get(args.as_user)
        if user is None:
            raise LookupError(f"no user {args.as_user!r} in {settings.users_path}")
        who = Principal.of(user)
        who.require_operator()
        return who
    return Principal(args.by or getpass.getuser(), CLI_ROLE, None)


def registry_of(settings: Settings) -> Registry:
    """The registry the stack follows: its snapshot in embedded mode, else the CSV folder, else the generated one."""
    from streams.registry.csv_io import read_csv_dir
    from streams.registry.generate import generate
    from streams.registry.snapshot import read_snapshot

    if settings.embedded_kafka and settings.registry_snapshot_path.exists():
        return read_snapshot(settings.registry_snapshot_path)
    if settings.registry_dir is not None:
        return read_csv_dir(settings.registry_dir)
    return generate(halls=settings.registry_halls)


async def _open(settings: Settings) -> Any:
    from agents.cli.store import open_store

    return await open_store(settings)


async def _store(args: argparse.Namespace, settings: Settings, upload: Upload) -> int:
    from connectors.clickhouse import manual_values

    if upload.to_store:
        ch = await _open(settings)
        try:
            await manual_values.store(ch, upload)
        finally:
            await asyncio.to_thread(ch.close)
    report = upload.report()
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        print(_summary(report))
        for refusal in report["refused"]:
            print(f"  line {refusal['line']}: {refusal['reason']}: {refusal['detail']}")
    return 1 if upload.refused else 0


def _summary(report: dict[str, Any]) -> str:
    where = f"{report['file']} ({report['format']}{', ' + report['encoding'] if report['encoding'] else ''})"
    refused = len(report["refused"])
    if report["status"] == "refused":
        return f"{where}: {refused} of {report['rows']} rows refused; nothing was stored (fix them, or --partial)"
    return (
        f"{where}: stored {report['stored']} of {report['rows']} rows as upload {report['upload_id']}"
        f" by {report['uploaded_by']}" + (f"; {refused} refused" if refused else "")
    )


async def _history(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.clickhouse import manual_values
    from streams.manual.history import with_history

    ch = await _open(settings)
    try:
        rows = await manual_values.read(ch, indicator=args.indicator, entity=args.entity)
    finally:
        await asyncio.to_thread(ch.close)
    values = with_history(rows)
    if args.json:
        print(json.dumps(values, ensure_ascii=False, indent=1))
        return 0
    if not values:
        print(f"no values of {args.indicator}" + (f" for {args.entity}" if args.entity else ""))
        return 0
    for v in values:
        print(
            f"{v['period']:<8} {v['entity_kind']:<5} {v['entity']:<12} {v['value']:>10g}"
            f"  {v['uploaded_at']} by {v['uploaded_by']} ({v['file']}:{v['line']})"
        )
        for old in v["history"]:
            print(
                f"{'':<28} {old['value']:>10g}  {old['uploaded_at']} by {old['uploaded_by']}"
                f" ({old['file']}:{old['line']}), superseded"
            )
    return 0
