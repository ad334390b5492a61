"""The `govpulse` command."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from pydantic import ValidationError

from agents import logs
from agents.settings import Settings

log = structlog.get_logger("govpulse")


def _settings(args: argparse.Namespace) -> Settings:
    """Settings for this command; only `up` runs the roles of GOVPULSE_ROLES (and is held to their checks)."""
    overrides: dict[str, object] = {} if args.cmd == "up" else {"roles": "none"}
    if getattr(args, "data_dir", None):
        overrides["data_dir"] = Path(args.data_dir)
    if getattr(args, "port", None) is not None:
        overrides["http_port"] = args.port
    if args.cmd == "up" and args.roles:
        overrides["roles"] = args.roles
    return Settings(**overrides)


def _parse_scenarios(items: list[str]) -> list[tuple[float, str]]:
    """`90:long_queue` → (90.0, "long_queue"): inject that scenario 90 s after start."""
    out = []
    for item in items:
        at, _, name = item.partition(":")
        out.append((float(at), name) if name else (0.0, at))
    return out


def _hall_clock_offset(choice: str) -> timedelta:
    """`real` keeps hall clocks true; `HH:MM` shifts them there; `auto` shifts to 10:00 when halls are closed.

    Events are always stamped with the real time; only the simulated halls'
    idea of the hour moves, so a demo at night still shows queues.
    """
    from streams.simulator.hours import offset_to
    from streams.workdays import SHANGHAI

    now = datetime.now(UTC)
    if choice == "real":
        return timedelta(0)
    if choice != "auto":
        return offset_to(now, choice)
    local = now.astimezone(SHANGHAI)
    open_now = local.weekday() < 5 and (9, 30) <= (local.hour, local.minute) <= (16, 30)
    return timedelta(0) if open_now else offset_to(now, "10:00")


def _settle_heap() -> None:
    """Keep the cyclic garbage collector off the hot path of a long-running process.

    The worker allocates a few dozen objects per event (decoded JSON, models, rows), almost all freed by reference
    counting; at the default thresholds the collector still ran every 700 allocations and, every so often, walked
    the whole heap (registry, rule state, Kafka client), which cost a worker about a third of its time under load.
    What exists after start is frozen out of the walks, and collections run a hundred times less often; cyclic
    garbage, which is rare here, waits longer to be freed.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(70_000, 20, 100)


async def _up(args: argparse.Namespace) -> int:
    from agents.stack import Stack

    settings = _settings(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stack = Stack(settings, demo_tokens=args.simulate)
    sim_task: asyncio.Task[object] | None = None
    try:
        await stack.start()
        _settle_heap()
        print(f"govpulse is up: gateway and /metrics on {stack.base_url}", file=sys.stderr, flush=True)
        if args.simulate:
            from streams.auth.demo import ensure_demo_users
            from streams.auth.users import UserStore

            demo = ensure_demo_users(UserStore(settings.users_path), settings.data_dir / "demo_users.txt")
            if demo is not None:
                print(f"monitoring center: {stack.base_url}/  (demo sign-ins: {demo})", file=sys.stderr, flush=True)
            from connectors.simulator_client import run_simulator

            sim_task = asyncio.create_task(
                run_simulator(
                    stack.base_url,
                    stack.demo_tokens,
                    stack.registry,
                    rate_eps=args.rate,
                    scenarios=_parse_scenarios(args.scenario),
                    clock_offset=_hall_clock_offset(args.hall_time),
                    stop=stop,
                    salt=settings.simulator_salt.get_secret_value(),
                )
            )
        await stop.wait()
        log.info("shutdown_requested")
    finally:
        stop.set()
        if sim_task is not None:
            await asyncio.gather(sim_task, return_exceptions=True)
        await stack.stop()
        await _end_stragglers()
    return 0


async def _end_stragglers(grace_s: float = 5.0) -> None:
    """Cancel what the stack left running; if some task will not end, exit anyway.

    A Kafka client whose stop timed out can keep reconnecting to the broker
    that was just stopped and ignore cancellation, which would keep the
    process alive forever. By now everything is stopped or durable (ClickHouse
    closed, offsets only after writes), so leaving without it is safe.
    """
    leftover = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in leftover:
        task.cancel()
    if not leftover:
        return
    _, pending = await asyncio.wait(leftover, timeout=grace_s)
    if pending:
        log.warning("shutdown_forced", tasks_left=len(pending))
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


async def _simulate(args: argparse.Namespace) -> int:
    from connectors.simulator_client import run_simulator
    from streams.registry.csv_io import read_csv_dir
    from streams.registry.generate import generate

    tokens = json.loads(Path(args.tokens).read_text(encoding="utf-8"))
    registry = read_csv_dir(Path(args.registry_dir)) if args.registry_dir else generate(halls=args.halls)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stats = await run_simulator(
        args.url,
        tokens,
        registry,
        rate_eps=args.rate,
        scenarios=_parse_scenarios(args.scenario),
        clock_offset=_hall_clock_offset(args.hall_time),
        duration_s=args.duration,
        stop=stop,
        salt=_settings(args).simulator_salt.get_secret_value(),
    )
    print(json.dumps(stats.summary(), default=str, ensure_ascii=False))
    return 0


def _registry(args: argparse.Namespace) -> int:
    from streams.registry.csv_io import read_csv_dir, write_csv_dir
    from streams.registry.generate import generate

    if args.registry_cmd == "generate":
        registry = generate(halls=args.halls, seed=args.seed)
        write_csv_dir(registry, Path(args.out))
        print(json.dumps(registry.counts()))
        return 0
    # import: validate the CSVs, then stream every row onto the compacted topic.
    registry = read_csv_dir(Path(args.dir))
    return asyncio.run(_publish_registry(registry))


async def _publish_registry(registry: object) -> int:
    from connectors.kafka import topics as kafka_conn
    from connectors.kafka.registry_topic import publish

    settings = Settings(roles="none")
    if settings.embedded_kafka:
        print("registry import needs GOVPULSE_KAFKA_DSN=kafka://host:port", file=sys.stderr)
        return 2
    bootstrap = kafka_conn.bootstrap_servers(settings.kafka_dsn)
    producer = kafka_conn.make_producer(bootstrap, "govpulse-registry-import")
    await producer.start()
    try:
        count = await publish(registry, producer)  # type: ignore[arg-type]
    finally:
        await producer.stop()
    print(json.dumps({"published": count}))
    return 0


def _tokens(args: argparse.Namespace) -> int:
    from connectors.gateway.node_tokens import issue_tokens, write_plain_tokens

    settings = _settings(args)
    tokens = issue_tokens(args.sources, settings.tokens_path)
    write_plain_tokens(tokens, Path(args.out))
    print(json.dumps({"issued": sorted(tokens), "hashes": str(settings.tokens_path), "tokens_file": args.out}))
    return 0


def _signed_in_opener(url: str, user: str | None) -> object:
    """A urllib opener holding a monitoring-center session; the password comes from GOVPULSE_PASSWORD or a prompt."""
    import getpass
    import http.cookiejar
    import os
    import urllib.request

    if not user:
        raise SystemExit("error: the API needs a sign-in: pass --user (or set GOVPULSE_USER)")
    password = os.environ.get("GOVPULSE_PASSWORD") or getpass.getpass(f"password for {user}: ")
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = urllib.request.Request(
        f"{url}/api/v1/session",
        data=json.dumps({"username": user, "password": password}).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener.open(login, timeout=30)
    return opener


def _indicators(args: argparse.Namespace) -> int:
    """Print the indicator list (no server needed), or one indicator's points from a running govpulse."""
    import urllib.error
    import urllib.parse

    from streams.indicators.catalog import INDICATORS

    if args.markdown:
        from streams.indicators.doc import markdown

        print(markdown(), end="")
        return 0
    if not args.name:
        for ind in INDICATORS.values():
            print(f"{ind.name:<28} {ind.family:<13} {ind.unit:<12} {ind.title_zh}")
        return 0
    base = args.url.rstrip("/")
    query = {"scope": args.scope, "window": args.window}
    query.update({k: v for k, v in (("from", args.start), ("to", args.end)) if v})
    url = f"{base}/api/v1/indicators/{urllib.parse.quote(args.name)}?{urllib.parse.urlencode(query)}"
    try:
        opener = _signed_in_opener(base, args.user)
        with opener.open(url, timeout=30) as resp:  # type: ignore[attr-defined]
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        print(exc.read().decode(), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(body, ensure_ascii=False, indent=1))
        return 0
    for point in body["points"]:
        group = f" {point['reason']}" if "reason" in point else ""
        print(f"{point['bucket']}{group} {point['value']}")
    return 0


async def _backtest(args: argparse.Namespace) -> int:
    from connectors.clickhouse.client import ClickHouse
    from connectors.clickhouse.migrations import migrate
    from streams.registry.csv_io import read_csv_dir
    from streams.registry.generate import generate
    from streams.rules.backtest import backtest
    from streams.rules.loader import RuleError, load_rules

    settings = _settings(args)
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
        report = await backtest(rules, ch, registry, start, end, timedelta(seconds=args.step))
    finally:
        await asyncio.to_thread(ch.close)
    for ep in report.episodes:
        resolved = ep.resolved_at.isoformat() if ep.resolved_at else "still firing"
        group = ",".join(f"{k}={v}" for k, v in sorted(ep.group.items()))
        print(f"{ep.rule_id:<28} {group:<40} fired {ep.fired_at.isoformat()}  resolved {resolved}")
    flaps = report.flaps()
    for (rule_id, group), n in sorted(flaps.items()):
        print(f"flapping: {rule_id} {dict(group)} fired again {n} time(s) after resolving")
    print(f"{len(report.episodes)} firing episode(s), {len(flaps)} flapping alert(s) between {start} and {end}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from streams.schema_export import export

    for path in export(Path(args.out)):
        print(path)
    return 0


def _parser() -> argparse.ArgumentParser:
    # No abbreviations: `up --role worker` must be an error, not silently `--roles`.
    p = argparse.ArgumentParser(
        prog="govpulse", description="Real-time supervision of government service halls.", allow_abbrev=False
    )
    sub = p.add_subparsers(dest="cmd", required=True)

    up = sub.add_parser(
        "up", help="run the stack: broker, Redis, ClickHouse, worker, gateway, /metrics", allow_abbrev=False
    )
    up.add_argument("--simulate", action="store_true", help="feed it with simulated city nodes")
    up.add_argument("--data-dir", help="where chDB data, tokens and logs live (default ./var)")
    up.add_argument("--port", type=int, help="HTTP port for the gateway and /metrics (default 8080)")
    up.add_argument("--rate", type=float, default=300.0, help="simulated events per second (with --simulate)")
    up.add_argument("--scenario", action="append", default=[], metavar="[SECONDS:]NAME", help="inject an anomaly")
    up.add_argument(
        "--hall-time", default="auto", metavar="auto|real|HH:MM", help="simulated halls' clock (default auto)"
    )
    up.add_argument(
        "--roles", help="run only these roles: gateway, worker, center (comma list; default GOVPULSE_ROLES, all)"
    )

    sim = sub.add_parser("simulate", help="post simulated city-node traffic to a running gateway")
    sim.add_argument("--url", default="http://127.0.0.1:8080")
    sim.add_argument("--tokens", required=True, help="JSON file {source: token}")
    sim.add_argument("--rate", type=float, default=300.0)
    sim.add_argument("--duration", type=float, default=None, help="seconds; default: until interrupted")
    sim.add_argument("--scenario", action="append", default=[], metavar="[SECONDS:]NAME")
    sim.add_argument("--halls", type=int, default=2100, help="size of the generated registry the gateway uses")
    sim.add_argument("--registry-dir", help="use this CSV registry instead of generating one")
    sim.add_argument(
        "--hall-time", default="auto", metavar="auto|real|HH:MM", help="simulated halls' clock (default auto)"
    )

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

    ind = sub.add_parser("indicators", help="list indicators, or query one, from a running govpulse")
    ind.add_argument("name", nargs="?", help="indicator name; omit to list them")
    ind.add_argument("--url", default="http://127.0.0.1:8080")
    ind.add_argument(
        "--user",
        default=os.environ.get("GOVPULSE_USER"),
        help="monitoring-center user; password from GOVPULSE_PASSWORD or a prompt",
    )
    ind.add_argument(
        "--scope",
        default="province",
        help="province | city:440100 | county:440106 | hall:<id> | dept:<id> | source:<id>",
    )
    ind.add_argument("--window", default="1h", choices=["5m", "1h", "1d"])
    ind.add_argument("--from", dest="start", help="ISO 8601 with zone; default: a day (7 days for 1d) before --to")
    ind.add_argument("--to", dest="end", help="ISO 8601 with zone; default: now")
    ind.add_argument("--json", action="store_true", help="print the API's JSON answer")
    ind.add_argument("--markdown", action="store_true", help="print the catalogue as Markdown (no server needed)")

    sch = sub.add_parser("schema", help="event JSON Schemas")
    sch_sub = sch.add_subparsers(dest="schema_cmd", required=True)
    exp = sch_sub.add_parser("export")
    exp.add_argument("--out", default="docs/schemas")
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
    from agents.cli import deploy as deploy_cli
    from agents.cli.users import add_parser as add_users_parser
    from video_gateway.cli import add_parser as add_video_parser

    deploy_cli.add_parsers(sub)
    add_users_parser(sub)
    add_video_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValidationError as exc:
        from agents.cli.deploy import refusal

        print(refusal(exc), file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_json)
    if args.cmd == "up":
        return asyncio.run(_up(args))
    if args.cmd == "simulate":
        return asyncio.run(_simulate(args))
    if args.cmd == "registry":
        return _registry(args)
    if args.cmd == "tokens":
        return _tokens(args)
    if args.cmd == "schema":
        return _schema(args)
    if args.cmd == "indicators":
        return _indicators(args)
    if args.cmd == "video-gateway":
        from video_gateway import cli as video_cli

        return video_cli.run(args)
    if args.cmd == "users":
        from agents.cli import users as users_cli

        return users_cli.run(args, _settings(args))
    if args.cmd in ("init", "config"):
        from agents.cli import deploy as deploy_cli

        return deploy_cli.run(args, settings)
    if args.cmd == "rules" and args.rules_cmd == "backtest":
        return asyncio.run(_backtest(args))
    if args.cmd == "rules":
        from agents.cli.rules import check

        return check(args.path)
    return 2


if __name__ == "__main__":
    sys.exit(main())
