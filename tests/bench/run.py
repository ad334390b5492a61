"""`govpulse bench`: three rows on the same pre-generated events, at each registry size, in one run.

Each row gets a broker of its own (and govpulse a Redis of its own), so no row
pays for another's data. Per row:

- throughput: the row's pipeline runs flat out; after --warmup, the events it
  completes over --seconds give events/s, and the CPU seconds of its
  processes (the broker's included) per million events;
- latency (peer and govpulse): afterwards, traffic at --paced-rate events/s
  (the provincial peak) for --paced-seconds; govpulse's arrival-to-ClickHouse
  percentiles come from its own histogram, the peer's from its samples;
- alerts (govpulse): during the paced phase one injection every 2 s, each
  timed from its POST until the firing notice is on Redis, for the shipped
  event rule `hall_bad_review_burst` and the bench's indicator probe.

Peak RSS is sampled every 0.5 s for every process of the row.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from agents.settings import Settings
from connectors.alert_outputs import CHANNEL
from connectors.embedded import ChildProcess, free_port, tansu_broker, valkey_server
from connectors.gateway.node_tokens import issue_tokens
from connectors.kafka import topics as kafka_conn
from streams.definitions import STREAMS
from streams.models.wire import encode_batch_parts
from streams.registry.generate import generate
from tests.bench import anomalies
from tests.bench.load import Body, load_path, passes, read_load, write_load
from tests.bench.peer import PEER_TOPICS
from tests.bench.procs import Sampler, wait_until

PARTITIONS = 8


@dataclass
class Row:
    name: str
    halls: int
    events: int = 0
    seconds: float = 0.0
    events_per_s: float = 0.0
    cpu_s_per_million: float = 0.0  # every process of the row, the broker's included
    cpu_s: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    ingest_p50_s: float | None = None
    ingest_p99_s: float | None = None
    event_alert_p50_s: float | None = None
    event_alert_p99_s: float | None = None
    indicator_alert_p50_s: float | None = None
    indicator_alert_p99_s: float | None = None
    anomalies_injected: int = 0
    event_alerts_seen: int = 0
    indicator_alerts_seen: int = 0  # those not seen within the listening time are left out of the percentiles
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    seconds: float
    warmup: float
    paced_rate: float
    paced_seconds: float
    pool_events: int
    clients: int
    out: Path


# -- shared pieces ---------------------------------------------------------------------------------------------------
def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _broker(work: Path) -> ChildProcess:
    broker = tansu_broker(free_port(), work / f"broker-{time.time_ns()}")
    broker.start()
    return broker


def _finish(row: Row, sampler: Sampler, cpu0: dict[str, float], events: int, seconds: float) -> None:
    cpu1 = sampler.cpu()
    row.events, row.seconds = events, seconds
    row.events_per_s = events / seconds if seconds else 0.0
    row.cpu_s = {name: round(cpu1[name] - cpu0[name], 1) for name in cpu0}
    row.cpu_s_per_million = sum(row.cpu_s.values()) / events * 1e6 if events else 0.0


async def _produce(bootstrap: str, messages: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        max_batch_size=1024 * 1024,
        max_request_size=16 * 1024 * 1024,
    )
    await producer.start()
    try:
        pending = []
        for topic, key, value in messages:
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


# -- ceiling ---------------------------------------------------------------------------------------------------------
def ceiling(halls: int, bodies: list[Body], plan: Plan, work: Path) -> Row:
    row = Row("ceiling (aiokafka + validation)", halls)
    registry = generate(halls=halls)
    broker = _broker(work)
    try:
        bootstrap = f"127.0.0.1:{broker.port}"
        kafka_conn.ensure_topics(bootstrap, PARTITIONS)
        now = datetime.now(UTC)
        messages = [
            (
                STREAMS[b.stream].topic,
                str(registry.city_of_source(b.source) or 0).encode(),
                encode_batch_parts(
                    stream=b.stream, source=b.source, batch_id=f"bench-{i}", received_at=now, events=b.records(0)
                ),
            )
            for i, b in enumerate(bodies)
        ]
        asyncio.run(_produce(bootstrap, messages))
        report = work / "ceiling.json"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.ceiling",
                "--bootstrap",
                bootstrap,
                "--halls",
                str(halls),
                "--seconds",
                str(plan.seconds),
                "--warmup",
                str(plan.warmup),
                "--report",
                str(report),
            ]
        )
        with Sampler({"ceiling": proc.pid, "broker": broker.pid or 0}) as sampler:
            cpu0 = sampler.cpu()
            if proc.wait(timeout=plan.warmup + plan.seconds + 300) != 0:
                raise RuntimeError(f"the ceiling exited with {proc.returncode}")
        result = json.loads(report.read_text())
        # The ceiling measured its own window; the broker's CPU over the whole run is its upper bound.
        _finish(row, sampler, cpu0, result["events"], result["seconds"])
        row.cpu_s["ceiling"] = round(result["cpu_s"], 1)
        row.cpu_s_per_million = sum(row.cpu_s.values()) / max(1, row.events) * 1e6
        row.peak_rss_mb = {k: round(v) for k, v in sampler.peak_mb.items()}
        row.notes.append(
            f"the ceiling process was busy {result['cpu_s'] / max(result['seconds'], 1e-9):.0%} of the window; "
            "broker CPU counted over warm-up too (an upper bound)"
        )
        if result["invalid"]:
            row.notes.append(f"{result['invalid']} records refused by validation")
    finally:
        broker.stop()
    return row


# -- peer ------------------------------------------------------------------------------------------------------------
def _peer_messages(bodies: list[Body], copies: int) -> list[tuple[str, bytes, bytes]]:
    out = []
    topic_of = {stream: topic for topic, stream in PEER_TOPICS.items()}
    for k in range(copies):
        for b in bodies:
            key = b.source.encode()
            out.extend((topic_of[b.stream], key, json.dumps(record).encode()) for record in b.records(k))
    return out


def _peer_report(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"stored": 0, "invalid": 0}


def _peer_handled(report: Path) -> int:
    """Events the peer stored or refused."""
    done = _peer_report(report)
    return done["stored"] + done["invalid"]


def _peer_latencies(report: Path) -> list[tuple[float, float]]:
    path = report.with_suffix(".latencies")
    if not path.exists():
        return []
    return [(float(ts), float(lat)) for ts, lat in (line.split() for line in path.read_text().splitlines() if line)]


def peer(halls: int, bodies: list[Body], plan: Plan, work: Path) -> Row:
    row = Row("peer (idiomatic Faust)", halls)
    broker = _broker(work)
    proc = None
    try:
        bootstrap = f"127.0.0.1:{broker.port}"
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="govpulse-bench")
        admin.create_topics([NewTopic(topic, PARTITIONS, 1) for topic in PEER_TOPICS])
        admin.close()
        pool = sum(b.events for b in bodies)
        # Backlog for warm-up and window at 5,000/s, above what one event per message allows here (about 3,500/s);
        # a peer that drains it early is reported as a lower bound. More would only lengthen the drain before
        # the latency phase.
        copies = max(1, -(-int(5_000 * (plan.warmup + plan.seconds)) // pool))
        asyncio.run(_produce(bootstrap, _peer_messages(bodies, copies)))
        backlog = pool * copies
        report = work / "peer.json"
        env = {
            **os.environ,
            "BENCH_PEER_BOOTSTRAP": bootstrap,
            "BENCH_PEER_HALLS": str(halls),
            "BENCH_PEER_CHDB": str(work / "peer-chdb"),
            "BENCH_PEER_REPORT": str(report),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.peer", "worker", "-l", "warn", "--without-web"],
            env=env,
            stdout=(work / "peer.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        with Sampler({"peer": proc.pid, "broker": broker.pid or 0}) as sampler:
            wait_until(lambda: _peer_report(report)["stored"] > 0 or proc.poll() is not None, 300, "peer's first rows")
            if proc.poll() is not None:
                raise RuntimeError(f"the peer exited; see {work / 'peer.log'}")
            time.sleep(plan.warmup)
            start, cpu0, began = _peer_report(report)["stored"], sampler.cpu(), time.monotonic()
            time.sleep(plan.seconds)
            stored = _peer_report(report)["stored"]
            _finish(row, sampler, cpu0, stored - start, time.monotonic() - began)
            if stored >= backlog:
                row.notes.append("drained its whole backlog inside the window: a lower bound")
            # Latency at the paced rate, once the backlog is gone.
            wait_until(lambda: _peer_handled(report) >= backlog, 1800, "the peer to drain its backlog", every_s=1)
            paced_from = time.time()
            sent = asyncio.run(_paced_peer(bootstrap, bodies, plan, copies))
            # Every paced event is counted, however late: the peer may fall behind at the peak rate.
            wait_until(
                lambda: _peer_handled(report) >= backlog + sent, 900, "the peer to store the paced events", every_s=1
            )
            time.sleep(1.5)  # its report timer writes the last latencies within a second
            latencies = [lat for ts, lat in _peer_latencies(report) if ts >= paced_from]
            row.ingest_p50_s, row.ingest_p99_s = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
            row.peak_rss_mb = {k: round(v) for k, v in sampler.peak_mb.items()}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
        broker.stop()
    return row


async def _paced_peer(bootstrap: str, bodies: list[Body], plan: Plan, first_copy: int) -> int:
    """Produce one event per message at the paced rate; returns how many were produced."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    topic_of = {stream: topic for topic, stream in PEER_TOPICS.items()}
    try:
        began, sent = time.monotonic(), 0
        for k, body in passes(bodies):
            elapsed = time.monotonic() - began
            if elapsed >= plan.paced_seconds:
                break
            ahead = sent / plan.paced_rate - elapsed
            if ahead > 0:
                await asyncio.sleep(ahead)
            for record in body.records(k + first_copy):
                await producer.send(topic_of[body.stream], value=json.dumps(record).encode(), key=body.source.encode())
            sent += body.events
        await producer.flush()
    finally:
        await producer.stop()
    return sent


# -- govpulse --------------------------------------------------------------------------------------------------------
def _metrics(base: str) -> str:
    try:
        with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
            return resp.read().decode()
    except OSError:
        return ""


def _sum(text: str, prefix: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))


def _buckets(text: str) -> dict[float, float]:
    """Cumulative counts of govpulse_processing_latency_seconds, summed over streams, by upper bound."""
    out: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith("govpulse_processing_latency_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            out[bound] = out.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def histogram_quantile(before: dict[float, float], after: dict[float, float], q: float) -> float | None:
    """The q-quantile of what was observed between two snapshots, interpolated inside its bucket as Prometheus does."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    lower, below = 0.0, 0.0
    for bound, cumulative in zip(bounds, counts, strict=True):
        if cumulative >= rank:
            if bound == float("inf"):
                return lower
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


class _Sender:
    """Posts the load's bodies to the gateway from `clients` concurrent connections.

    Flat out, it holds back while more than MAX_BACKLOG accepted events wait to
    be stored: otherwise the gateway, which is cheaper per event, takes the
    CPU the worker needs, and the figure would be the gateway's, not the
    pipeline's sustained rate.
    """

    MAX_BACKLOG = 100_000

    def __init__(self, base: str, worker_base: str, tokens: dict[str, str], bodies: list[Body]) -> None:
        self.base, self.worker_base, self.tokens = base, worker_base, tokens
        self.feed = passes(bodies)
        self.accepted = self.errors = 0
        self.stored = 0.0

    async def watch_backlog(self, session: aiohttp.ClientSession) -> None:
        while True:
            async with session.get(f"{self.worker_base}/metrics") as resp:
                self.stored = _sum(await resp.text(), "govpulse_events_accepted_total{")
            await asyncio.sleep(0.5)

    async def run(
        self, session: aiohttp.ClientSession, seconds: float, clients: int, rate: float | None = None
    ) -> None:
        began = time.monotonic()
        sent = 0

        async def client() -> None:
            nonlocal sent
            while (elapsed := time.monotonic() - began) < seconds:
                if rate is None and self.accepted - self.stored > self.MAX_BACKLOG:
                    await asyncio.sleep(0.05)
                    continue
                k, body = next(self.feed)
                if rate is not None:
                    sent += body.events
                    ahead = sent / rate - elapsed
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                await self.post(session, body.stream, body.source, body.copy(k + 1))

        watcher = asyncio.create_task(self.watch_backlog(session))
        try:
            await asyncio.gather(*(client() for _ in range(clients)))
        finally:
            watcher.cancel()

    async def post(self, session: aiohttp.ClientSession, stream: str, source: str, data: bytes) -> None:
        headers = {"Authorization": f"Bearer {self.tokens[source]}", "Content-Type": "application/json"}
        try:
            async with session.post(f"{self.base}/api/v1/ingest/{stream}", data=data, headers=headers) as resp:
                answer = await resp.json()
                if resp.status == 202:
                    self.accepted += answer["accepted"]
                else:
                    self.errors += 1
        except (TimeoutError, aiohttp.ClientError):
            self.errors += 1


async def _alerts_while_paced(
    base: str, redis_port: int, sender: _Sender, injector: anomalies.Injector, plan: Plan
) -> tuple[list[float], list[float], int]:
    """Paced traffic plus one injection every 2 s; (event-rule latencies, indicator-rule latencies, injections)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis(port=redis_port)
    pubsub = client.pubsub()
    await pubsub.subscribe(CHANNEL)
    posted: dict[str, float] = {}  # hall -> when its injection was posted
    fired: dict[str, dict[str, float]] = {anomalies.EVENT_RULE: {}, anomalies.INDICATOR_RULE: {}}
    done = asyncio.Event()

    async def listen() -> None:
        while not done.is_set() or any(len(by_hall) < len(posted) for by_hall in fired.values()):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is None:
                continue
            notice = json.loads(message["data"])
            alert = notice.get("alert", {})
            hall = alert.get("group", {}).get("hall")
            if notice.get("kind") == "firing" and alert.get("rule_id") in fired and hall in posted:
                fired[alert["rule_id"]].setdefault(hall, time.monotonic() - posted[hall])

    async def inject(session: aiohttp.ClientSession) -> None:
        n = 0
        began = time.monotonic()
        while time.monotonic() - began < plan.paced_seconds:
            source, hall, events = injector(n)
            posted[hall] = time.monotonic()
            await sender.post(session, "evaluation", source, json.dumps({"source": source, "events": events}).encode())
            n += 1
            await asyncio.sleep(2.0)

    listener = asyncio.create_task(listen())
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(
            sender.run(session, plan.paced_seconds, plan.clients, rate=plan.paced_rate), inject(session)
        )
    done.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(listener, timeout=anomalies.INDICATOR_EVERY_S + 30)
    await pubsub.aclose()
    await client.aclose()
    return list(fired[anomalies.EVENT_RULE].values()), list(fired[anomalies.INDICATOR_RULE].values()), len(posted)


def _start_role(roles: str, env: dict[str, str], data: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "agents.cli.main", "up", "--data-dir", str(data), "--port", str(port)],
        env={**env, "GOVPULSE_ROLES": roles},
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    wait_until(lambda: proc.poll() is not None or "govpulse_" in _metrics(base), 300, f"govpulse {roles}")
    if proc.poll() is not None:
        raise RuntimeError(f"govpulse {roles} exited; see {log}")
    return proc, base


def govpulse(halls: int, bodies: list[Body], plan: Plan, work: Path) -> Row:
    """The deployed shape (docker/): a gateway process, and a worker+center process, over one broker and Redis."""
    row = Row("govpulse (gateway → alerts)", halls)
    data = work / "govpulse"
    rules = work / "rules"
    shutil.copytree(Settings().rules_path, rules, dirs_exist_ok=True)
    (rules / "zz_bench_probe.yaml").write_text(anomalies.PROBE_RULES)
    broker, redis = _broker(work), valkey_server(free_port(), work / "redis")
    redis.start()
    procs: list[subprocess.Popen] = []
    try:
        bootstrap = f"127.0.0.1:{broker.port}"
        kafka_conn.ensure_topics(bootstrap, PARTITIONS)
        registry = generate(halls=halls)
        senders = {b.source for b in bodies} | {f"node-{h.city_code}" for h in registry.halls()}
        tokens = issue_tokens(sorted(senders), data / "node_tokens.json")
        env = {
            **os.environ,
            "GOVPULSE_KAFKA_DSN": f"kafka://{bootstrap}",
            "GOVPULSE_REDIS_DSN": f"redis://127.0.0.1:{redis.port}/0",
            "GOVPULSE_TOPIC_PARTITIONS": str(PARTITIONS),
            "GOVPULSE_REGISTRY_HALLS": str(halls),
            "GOVPULSE_RULES_DIR": str(rules),
            "GOVPULSE_LOG_LEVEL": "warning",
            # As docker/ deploys it: one key, so the worker takes what the gateway validated without validating again.
            "GOVPULSE_BATCH_SEAL_KEY": secrets.token_hex(32),
        }
        worker, base = _start_role("worker,center", env, data, work / "worker.log")
        procs.append(worker)
        gateway, gateway_base = _start_role("gateway", env, data, work / "gateway.log")
        procs.append(gateway)
        sender = _Sender(gateway_base, base, tokens, bodies)
        pids = {"gateway": gateway.pid, "worker+center": worker.pid, "broker": broker.pid or 0, "redis": redis.pid or 0}
        with Sampler(pids) as sampler:

            async def flat_out() -> tuple[float, dict[str, float], float, float]:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
                    await sender.run(session, plan.warmup, plan.clients)
                    stored0, cpu0, began = (
                        _sum(_metrics(base), "govpulse_events_accepted_total{"),
                        sampler.cpu(),
                        time.monotonic(),
                    )
                    await sender.run(session, plan.seconds, plan.clients)
                    return stored0, cpu0, began, _sum(_metrics(base), "govpulse_events_accepted_total{")

            stored0, cpu0, began, stored1 = asyncio.run(flat_out())
            _finish(row, sampler, cpu0, int(stored1 - stored0), time.monotonic() - began)
            row.notes.append(f"gateway accepted {sender.accepted:,} events, {sender.errors} requests failed")
            lag = sender.accepted - stored1
            row.notes.append(f"backlog at the end of the window: {max(0, lag):,.0f} events")
            # Latency at the paced rate, once the backlog is stored.
            wait_until(
                lambda: _sum(_metrics(base), "govpulse_events_accepted_total{") >= sender.accepted,
                900,
                "govpulse to store its backlog",
                every_s=1,
            )
            before = _buckets(_metrics(base))
            injector = anomalies.Injector(registry, run=f"{time.time_ns()}")
            event_lat, ind_lat, injected = asyncio.run(_alerts_while_paced(base, redis.port, sender, injector, plan))
            wait_until(
                lambda: _sum(_metrics(base), "govpulse_events_accepted_total{") >= sender.accepted,
                120,
                "govpulse to store the paced traffic",
                every_s=0.5,
            )
            after = _buckets(_metrics(base))
            row.ingest_p50_s, row.ingest_p99_s = (
                histogram_quantile(before, after, 0.5),
                histogram_quantile(before, after, 0.99),
            )
            row.event_alert_p50_s, row.event_alert_p99_s = _percentile(event_lat, 0.5), _percentile(event_lat, 0.99)
            row.indicator_alert_p50_s, row.indicator_alert_p99_s = _percentile(ind_lat, 0.5), _percentile(ind_lat, 0.99)
            row.anomalies_injected, row.event_alerts_seen, row.indicator_alerts_seen = (
                injected,
                len(event_lat),
                len(ind_lat),
            )
            row.notes.append(
                f"{injected} anomalies injected; alerts seen: {len(event_lat)} event-rule, "
                f"{len(ind_lat)} indicator-rule"
            )
            row.peak_rss_mb = {k: round(v) for k, v in sampler.peak_mb.items()}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=120)
        redis.stop()
        broker.stop()
    return row


# -- the run ---------------------------------------------------------------------------------------------------------
ROWS = {"ceiling": ceiling, "peer": peer, "govpulse": govpulse}


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    return f"{value * 1000:,.0f} ms" if unit == "s" else f"{value:,.0f}"


def table(rows: list[Row]) -> str:
    head = (
        "halls",
        "row",
        "events/s",
        "CPU s/M ev",
        "ingest p50",
        "ingest p99",
        "event-rule alert p50/p99",
        "indicator-rule alert p50/p99",
        "peak RSS MB",
    )
    lines = [head]
    for r in rows:
        lines.append(
            (
                f"{r.halls:,}",
                r.name,
                f"{r.events_per_s:,.0f}",
                f"{r.cpu_s_per_million:,.0f}",
                _fmt(r.ingest_p50_s),
                _fmt(r.ingest_p99_s),
                f"{_fmt(r.event_alert_p50_s)} / {_fmt(r.event_alert_p99_s)}",
                f"{_fmt(r.indicator_alert_p50_s)} / {_fmt(r.indicator_alert_p99_s)}",
                ", ".join(f"{k} {v:,.0f}" for k, v in r.peak_rss_mb.items()),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    out = [" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    out.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(out)


def _judged(
    halls: int, name: str, value: float | None, limit: float, higher_is_better: bool, missed: int = 0
) -> dict[str, Any]:
    met = None if value is None else (value >= limit if higher_is_better else value <= limit)
    # An alert that never fired within the listening time is later than any limit: its p99 target is not met,
    # whatever the percentile over the alerts that did fire says.
    if missed and met is not None:
        met = False
    return {"halls": halls, "target": name, "value": value, "limit": limit, "met": met, "missed": missed}


def targets(rows: list[Row]) -> list[dict[str, Any]]:
    """The issue's targets per registry size, each with the figure it was judged on; None where a row is missing."""
    out = []
    for halls in sorted({r.halls for r in rows}):
        by = {r.name.split(" ", 1)[0]: r for r in rows if r.halls == halls}
        gp, peer_row, ceil = by.get("govpulse"), by.get("peer"), by.get("ceiling")

        if gp is None:
            continue
        indicator_limit = anomalies.INDICATOR_EVERY_S + 2.0
        out += [
            _judged(halls, "govpulse events/s", gp.events_per_s, 50_000, True),
            _judged(
                halls,
                "govpulse / peer",
                gp.events_per_s / peer_row.events_per_s if peer_row and peer_row.events_per_s else None,
                5.0,
                True,
            ),
            _judged(
                halls,
                "govpulse / ceiling",
                gp.events_per_s / ceil.events_per_s if ceil and ceil.events_per_s else None,
                0.30,
                True,
            ),
            _judged(
                halls,
                "event-rule alert p99 s",
                gp.event_alert_p99_s,
                2.0,
                False,
                gp.anomalies_injected - gp.event_alerts_seen,
            ),
            _judged(
                halls,
                "indicator-rule alert p99 s",
                gp.indicator_alert_p99_s,
                indicator_limit,
                False,
                gp.anomalies_injected - gp.indicator_alerts_seen,
            ),
            _judged(halls, "worker peak RSS MB", gp.peak_rss_mb.get("worker+center"), 1536, False),
        ]
    return out


def _targets_text(judged: list[dict[str, Any]]) -> str:
    lines = []
    for t in judged:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        value = "—" if t["value"] is None else f"{t['value']:,.2f}"
        missed = f": {t['missed']} never fired in time" if t.get("missed") else ""
        lines.append(f"{t['halls']:>6,} halls  {t['target']:<28} {value:>10}  (limit {t['limit']:,}) {verdict}{missed}")
    return "\n".join(lines)


def run(sizes: list[int], rows: list[str], plan: Plan) -> list[Row]:
    results: list[Row] = []
    today = datetime.now(UTC).date()
    for halls in sizes:
        path = write_load(load_path(plan.out / "load", halls, plan.pool_events, today), halls, plan.pool_events, today)
        bodies = read_load(path)
        print(
            f"{halls:,} halls: {sum(b.events for b in bodies):,} events in {len(bodies):,} bodies ({path})", flush=True
        )
        for name in rows:
            work = Path(tempfile.mkdtemp(prefix=f"govpulse-bench-{name}-"))
            row = ROWS[name](halls, bodies, plan, work)
            shutil.rmtree(work, ignore_errors=True)  # kept when the row failed: its logs are there
            print(f"  {row.name}: {row.events_per_s:,.0f} events/s; {'; '.join(row.notes)}", flush=True)
            results.append(row)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench", description=__doc__.split("\n")[0], allow_abbrev=False
    )
    parser.add_argument("--sizes", default="2000,8000,24000", help="registry sizes in halls, comma-separated")
    parser.add_argument("--rows", default="ceiling,peer,govpulse")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window after warm-up")
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--paced-rate", type=float, default=10_000.0, help="events/s for the latency phase")
    parser.add_argument("--paced-seconds", type=float, default=30.0)
    parser.add_argument("--pool-events", type=int, default=300_000, help="distinct events in the load file")
    parser.add_argument("--clients", type=int, default=8, help="concurrent gateway connections")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument(
        "--smoke", action="store_true", help="a short run that proves the bench works; figures mean little"
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.seconds, args.warmup, args.paced_seconds, args.pool_events = "2000", 5.0, 3.0, 6.0, 20_000
    plan = Plan(
        args.seconds, args.warmup, args.paced_rate, args.paced_seconds, args.pool_events, args.clients, args.out
    )
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; rows are {', '.join(ROWS)}")
    results = run([int(s) for s in args.sizes.split(",")], rows, plan)
    judged = targets(results)
    text = table(results) + "\n\n" + _targets_text(judged)
    print(
        f"\n{text}\n\n{os.cpu_count()} cores; window {plan.seconds:.0f} s after {plan.warmup:.0f} s warm-up; "
        f"latencies at {plan.paced_rate:,.0f} events/s for {plan.paced_seconds:.0f} s",
        flush=True,
    )
    plan.out.mkdir(parents=True, exist_ok=True)
    (plan.out / "bench.json").write_text(
        json.dumps(
            {
                "cores": os.cpu_count(),
                "plan": {k: str(v) for k, v in asdict(plan).items()},
                "rows": [asdict(r) for r in results],
                "targets": judged,
            },
            indent=2,
            ensure_ascii=False,
        )
    )
    (plan.out / "bench.txt").write_text(text + "\n")
    print(f"written {plan.out / 'bench.json'} and {plan.out / 'bench.txt'}")


if __name__ == "__main__":
    main(sys.argv[1:])
