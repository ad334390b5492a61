"""`govpulse up` (the stack of this process's roles, optionally fed by the simulator) and `govpulse simulate`."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from agents import renewal
from agents.cli import Subcommands
from agents.settings import Settings
from streams.registry import Registry

log = structlog.get_logger("govpulse")


def add_parsers(sub: Subcommands) -> None:
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


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.cmd == "up":
        from connectors.gateway.spool import SpoolCorrupt

        try:
            return asyncio.run(_up(args, settings))
        except SpoolCorrupt as exc:
            print(
                f"govpulse: not starting, the gateway's spool cannot be read back: {exc}\n"
                "It holds batches answered 202 whose rows may not be stored yet. Move the file aside (and keep it) "
                "to start with an empty spool.",
                file=sys.stderr,
            )
            return 2
    from streams.registry.csv_io import read_csv_dir
    from streams.registry.generate import generate

    tokens = json.loads(Path(args.tokens).read_text(encoding="utf-8"))
    registry = read_csv_dir(Path(args.registry_dir)) if args.registry_dir else generate(halls=args.halls)
    return asyncio.run(_simulate(args, settings, tokens, registry))


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


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


async def _up(args: argparse.Namespace, settings: Settings) -> int:
    from agents.stack import Stack

    stop = asyncio.Event()
    _stop_on_signals(stop)
    stack = Stack(settings, demo_tokens=args.simulate)
    sim_task: asyncio.Task[object] | None = None
    renew = False
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
        stopping = asyncio.create_task(stop.wait())
        renewing = asyncio.create_task(stack.renewal.wait())
        await asyncio.wait({stopping, renewing}, return_when=asyncio.FIRST_COMPLETED)
        renew = stack.renewal.is_set() and not stop.is_set()
        log.info("renewal_requested" if renew else "shutdown_requested")
    finally:
        stop.set()
        if sim_task is not None:
            await asyncio.gather(sim_task, return_exceptions=True)
        await stack.stop()
        await end_stragglers(then=(lambda: renewal.renew(stack.listen_fd)) if renew else None)
    if renew:
        renewal.renew(stack.listen_fd)
    return 0


async def end_stragglers(grace_s: float = 5.0, then: Callable[[], None] | None = None) -> None:
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
        if then is not None:
            then()  # a renewal replaces the process, stuck tasks and all
        os._exit(0)


async def _simulate(args: argparse.Namespace, settings: Settings, tokens: dict[str, str], registry: Registry) -> int:
    from connectors.simulator_client import run_simulator

    stop = asyncio.Event()
    _stop_on_signals(stop)
    stats = await run_simulator(
        args.url,
        tokens,
        registry,
        rate_eps=args.rate,
        scenarios=_parse_scenarios(args.scenario),
        clock_offset=_hall_clock_offset(args.hall_time),
        duration_s=args.duration,
        stop=stop,
        salt=settings.simulator_salt.get_secret_value(),
    )
    print(json.dumps(stats.summary(), default=str, ensure_ascii=False))
    return 0
