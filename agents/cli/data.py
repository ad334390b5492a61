"""`govpulse registry`, `govpulse tokens` and `govpulse schema`: the reference data and the contracts nodes work to."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from agents.cli import Subcommands
from agents.settings import Settings
from streams.registry import Registry


def add_parsers(sub: Subcommands) -> None:
    reg = sub.add_parser("registry", help="the org registry")
    reg_sub = reg.add_subparsers(dest="registry_cmd", required=True)
    gen = reg_sub.add_parser("generate", help="write a generated Guangdong registry as CSV")
    gen.add_argument("--out", required=True)
    gen.add_argument("--halls", type=int, default=2100)
    gen.add_argument("--seed", type=int, default=2260)
    imp = reg_sub.add_parser("import", help="validate a CSV registry and publish it to the registry topic")
    imp.add_argument("dir")

    tok = sub.add_parser("tokens", help="issue node tokens (stored hashed)")
    tok_sub = tok.add_subparsers(dest="tokens_cmd", required=True)
    issue = tok_sub.add_parser("issue")
    issue.add_argument("sources", nargs="+", help="source ids, e.g. node-440100")
    issue.add_argument("--out", required=True, help="file that receives the plain tokens (mode 0600)")
    issue.add_argument("--data-dir")

    sch = sub.add_parser("schema", help="event JSON Schemas")
    sch_sub = sch.add_subparsers(dest="schema_cmd", required=True)
    exp = sch_sub.add_parser("export")
    exp.add_argument("--out", default="docs/schemas")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.cmd == "registry":
        return _registry(args, settings)
    if args.cmd == "tokens":
        return _tokens(args, settings)
    return _schema(args)


def _registry(args: argparse.Namespace, settings: Settings) -> int:
    from streams.registry.csv_io import read_csv_dir, write_csv_dir
    from streams.registry.generate import generate

    if args.registry_cmd == "generate":
        registry = generate(halls=args.halls, seed=args.seed)
        write_csv_dir(registry, Path(args.out))
        print(json.dumps(registry.counts()))
        return 0
    # import: validate the CSVs, then stream every row onto the compacted topic.
    registry = read_csv_dir(Path(args.dir))
    return asyncio.run(_publish_registry(registry, settings))


async def _publish_registry(registry: Registry, settings: Settings) -> int:
    from connectors.kafka import topics as kafka_conn
    from connectors.kafka.registry_topic import publish

    if settings.embedded_kafka:
        print("registry import needs GOVPULSE_KAFKA_DSN=kafka://host:port", file=sys.stderr)
        return 2
    bootstrap = kafka_conn.bootstrap_servers(settings.kafka_dsn)
    producer = kafka_conn.make_producer(bootstrap, "govpulse-registry-import")
    await producer.start()
    try:
        count = await publish(registry, producer)
    finally:
        await producer.stop()
    print(json.dumps({"published": count}))
    return 0


def _tokens(args: argparse.Namespace, settings: Settings) -> int:
    from connectors.gateway.node_tokens import issue_tokens, write_plain_tokens

    tokens = issue_tokens(args.sources, settings.tokens_path)
    write_plain_tokens(tokens, Path(args.out))
    print(json.dumps({"issued": sorted(tokens), "hashes": str(settings.tokens_path), "tokens_file": args.out}))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from streams.schema_export import export

    for path in export(Path(args.out)):
        print(path)
    return 0
