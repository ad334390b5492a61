"""The running stack of one process: broker, Redis, ClickHouse, registry, worker and gateway.

In the embedded mode the broker and Redis are child processes and ClickHouse
is chDB in this process; with real DSNs the same code connects to them
instead. `stop()` undoes `start()` in reverse and leaves no child behind.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import redis.asyncio as aioredis
import structlog
from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents import deadletter as deadletter_agent
from agents import ingest as ingest_agent
from agents import rule_feed as rule_feed_agent
from agents.app import build_app
from agents.settings import ROLES, Settings
from connectors.alert_outputs import AlertOutputs
from connectors.center import indicators_api, page, rules_api, scores_api
from connectors.center.alert_view import RuleInfo, rule_infos
from connectors.center.alerts_api import AlertCenter
from connectors.center.auth_api import TOKEN, USER, Auth
from connectors.center.desk import AlertDesk
from connectors.center.feed import LiveFeed
from connectors.center.sessions import SessionStore
from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.event_store import ClickHouseEventStore
from connectors.clickhouse.generations import current_generations
from connectors.clickhouse.migrations import migrate
from connectors.clickhouse.org_dims import sync_org
from connectors.clickhouse.rows import ROW_BUILDERS
from connectors.embedded import ChildProcess, free_port, tansu_broker, valkey_server
from connectors.gateway.node_tokens import NodeTokens, issue_tokens, write_plain_tokens
from connectors.gateway.service import Gateway, build_web_app
from connectors.kafka import registry_topic
from connectors.kafka import topics as kafka_conn
from connectors.notifiers import WebhookNotifier
from streams.alerts.lifecycle import AlertBook
from streams.auth.users import UserStore
from streams.definitions import STREAMS
from streams.indicators.scorecard import load_scorecard
from streams.ingest.processor import IngestProcessor
from streams.metrics import Metrics
from streams.registry import Registry
from streams.registry.csv_io import read_csv_dir
from streams.registry.generate import generate
from streams.rule_feed import RuleFeed
from streams.rules.build import build as build_rules
from streams.rules.loader import RuleSet
from streams.rules.org_labels import INHIBITIONS, with_org_labels
from streams.rules.reloader import RuleReloader
from streams.rules.runner import RuleRunner
from streams.validation import TimeLimits, Validator
from streams.vetted import BatchSeal

log = structlog.get_logger(__name__)
BOOK_KEY = "govpulse:alerts:book"


class Stack:
    def __init__(self, settings: Settings, *, demo_tokens: bool = False) -> None:
        self.settings = settings
        self.demo_tokens: dict[str, str] = {}
        self._want_demo_tokens = demo_tokens
        self.metrics = Metrics(CollectorRegistry())
        self.registry = Registry()
        self.children: list[ChildProcess] = []
        self.bootstrap = ""
        self.redis_url = ""
        self.http_port = settings.http_port
        self.ch: ClickHouse | None = None
        self.redis: aioredis.Redis | None = None
        self.producer: AIOKafkaProducer | None = None
        self.follower: registry_topic.RegistryFollower | None = None
        self.app: faust.App | None = None
        self.feed_app: faust.App | None = None
        self.book = AlertBook()
        self.rules: RuleRunner | None = None
        self.reloader: RuleReloader | None = None
        self.runner: web.AppRunner | None = None
        self.processor: IngestProcessor | None = None
        self.generations: dict[str, int] = {}
        self._tick_task: asyncio.Task[None] | None = None
        self._fault_task: asyncio.Task[None] | None = None
        self.notifier: WebhookNotifier | None = None
        self.center: AlertCenter | None = None
        self._feed_redis: aioredis.Redis | None = None
        self.rule_infos: dict[str, RuleInfo] = {}
        key = settings.batch_seal_key.get_secret_value()
        self.seal = BatchSeal(key.encode()) if key else BatchSeal.random()

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self.http_port}"

    async def start(self) -> None:
        s = self.settings
        roles = s.role_set
        s.data_dir.mkdir(parents=True, exist_ok=True)
        await self._start_children()
        created = await asyncio.to_thread(kafka_conn.ensure_topics, self.bootstrap, s.topic_partitions)

        if roles & {"worker", "center"}:
            self.ch = ClickHouse(self._clickhouse_dsn(), s.clickhouse_database, cluster=s.clickhouse_cluster or None)
            await self.ch.run(self.ch.open)
            applied = await self.ch.run(migrate, self.ch, s.clickhouse_cluster or None)
            raw_topics = [spec.topic for spec in STREAMS.values()]
            self.generations = await self.ch.run(current_generations, self.ch, raw_topics, created)
            log.info("clickhouse_ready", dsn=self.ch.dsn.split("@")[-1], migrations_applied=applied)

        if "center" in roles:
            # After a Redis restart the pool's connections are dead; retrying once on a fresh one hides that from callers.
            self.redis = aioredis.from_url(
                self.redis_url,
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 2),
                retry_on_error=[RedisConnectionError, RedisTimeoutError],
            )
            await self.redis.ping()

        self.producer = kafka_conn.make_producer(self.bootstrap, "govpulse")
        await self.producer.start()
        if await registry_topic.topic_is_empty(self.bootstrap):
            await registry_topic.publish(await asyncio.to_thread(self._initial_registry), self.producer)
        self.follower = registry_topic.RegistryFollower(
            self.bootstrap, self.registry, self.metrics, self._registry_changed
        )
        await self.follower.start()
        if self.ch is not None:
            await sync_org(self.ch, self.registry)

        validator = Validator(
            self.registry,
            TimeLimits(max_age=timedelta(seconds=s.max_event_age_s), max_future=timedelta(seconds=s.max_future_skew_s)),
        )
        if roles and roles != frozenset(ROLES) and not s.batch_seal_key.get_secret_value():
            log.warning(
                "batch_seal_key_unset",
                hint="set GOVPULSE_BATCH_SEAL_KEY alike on gateways, workers and the center "
                "so that a batch is validated once, at the gateway",
            )
        if "center" in roles:
            await self._start_rules()
        if "worker" in roles:
            await self._start_worker(validator)
        elif "center" in roles:
            await self._start_rule_feed(validator)
        if self._want_demo_tokens:
            self.demo_tokens = self._simulator_tokens()
        await self._start_http(validator)
        if s.fault_clickhouse_writes and self.ch is not None:
            self._fault_task = asyncio.create_task(self._inject_clickhouse_fault(s.fault_clickhouse_writes))
        log.info("stack_ready", roles=sorted(roles), http=self.base_url, kafka=self.bootstrap)

    async def stop(self) -> None:
        """Stop in reverse order; each step runs even if an earlier one failed."""
        if self._fault_task is not None:
            self._fault_task.cancel()
        if self._tick_task is not None:
            self._tick_task.cancel()
            await asyncio.gather(self._tick_task, return_exceptions=True)
        steps: list[tuple[str, Any]] = [
            ("live feed", self.center.feed.stop() if self.center else None),
            ("gateway", self.runner.cleanup() if self.runner else None),
            # The write in flight lands first, so that its offsets are committed as the worker stops.
            ("worker writes", self.processor.settle() if self.processor else None),
            ("worker", self.app.stop() if self.app else None),
            ("worker's last write", self.processor.settle() if self.processor else None),
            ("rule feed", self.feed_app.stop() if self.feed_app else None),
            ("registry", self.follower.stop() if self.follower else None),
            ("notifier", self.notifier.stop() if self.notifier else None),
            ("producer", self.producer.stop() if self.producer else None),
            ("redis", self.redis.aclose() if self.redis else None),
            ("feed redis", self._feed_redis.aclose() if self._feed_redis else None),
        ]
        for name, coro in steps:
            if coro is None:
                continue
            try:
                await asyncio.wait_for(coro, timeout=15)
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                log.warning("stop_failed", part=name, error=str(exc)[:300])
        if self.ch is not None:
            await asyncio.to_thread(self.ch.close)
        for child in reversed(self.children):
            await asyncio.to_thread(child.stop)
        log.info("stack_stopped")

    # -- parts -------------------------------------------------------------------------
    async def _start_children(self) -> None:
        s = self.settings
        if s.embedded_kafka:
            broker = tansu_broker(s.embedded_kafka_port or free_port(), s.data_dir / "logs")
            self.children.append(broker)
            await asyncio.to_thread(broker.start)
            self.bootstrap = f"127.0.0.1:{broker.port}"
        else:
            self.bootstrap = kafka_conn.bootstrap_servers(s.kafka_dsn)
        if s.embedded_redis:
            server = valkey_server(s.embedded_redis_port or free_port(), s.data_dir / "redis")
            self.children.append(server)
            await asyncio.to_thread(server.start)
            self.redis_url = f"redis://127.0.0.1:{server.port}/0"
        else:
            self.redis_url = s.redis_dsn

    def _clickhouse_dsn(self) -> str:
        s = self.settings
        if s.chdb_path is not None:
            s.chdb_path.mkdir(parents=True, exist_ok=True)
            return f"chdb://{s.chdb_path}"
        return s.clickhouse_dsn

    def _initial_registry(self) -> Registry:
        s = self.settings
        if s.registry_dir is not None:
            return read_csv_dir(s.registry_dir)
        return generate(halls=s.registry_halls)

    async def _start_rules(self) -> None:
        """The center's engine: rules, alert book, outputs and notifiers; fed by the worker or by its own rule feed."""
        s = self.settings
        assert self.ch is not None and self.producer is not None and self.redis is not None
        producer = self.producer

        async def send_all(topic: str, items: list[tuple[bytes, bytes]]) -> None:
            await kafka_conn.send_all(producer, topic, items)

        # URLs may carry credentials: they stay SecretStr until here and are never logged.
        self.notifier = WebhookNotifier(
            {k: v.get_secret_value() for k, v in s.webhooks.items()},
            self.metrics,
            allowed_hosts=s.webhook_allowed_hosts,
        )
        await self.notifier.start()
        self.book.set_inhibitions(INHIBITIONS)
        registry = self.registry
        self.rules = RuleRunner(
            self.book,
            AlertOutputs(send_all, self.ch, self.redis, self.metrics),
            self.ch,
            self.metrics,
            notifier=self.notifier,
            labeler=lambda obs: with_org_labels(obs, registry),
        )
        self.reloader = RuleReloader(s.rules_path, self.metrics)
        self._use_rules(self.reloader.load_initial())
        await self._restore_alerts()
        self._tick_task = asyncio.create_task(self._tick_rules(), name="rule-timer")

    async def _start_worker(self, validator: Validator) -> None:
        s = self.settings
        assert self.ch is not None and self.producer is not None
        producer = self.producer

        async def send_dead_letters(items: list[tuple[bytes, bytes]]) -> None:
            await kafka_conn.send_all(producer, kafka_conn.DEAD_LETTER_TOPIC, items)

        self.processor = IngestProcessor(
            validator,
            ClickHouseEventStore(self.ch),
            send_dead_letters,
            self.metrics,
            dedup_max_ids=s.dedup_max_ids,
            seal=self.seal,
            generations=self.generations,
            # In one process the rules see each batch as it is stored; apart, the center reads the topics itself.
            on_accepted=self.rules.on_events if self.rules is not None else None,
            retry_max_s=s.sink_retry_max_s,
        )
        self.app = build_app(s, self.bootstrap)
        ingest_agent.attach(self.app, self.processor, batch_messages=s.sink_batch_messages, flush_s=s.sink_flush_s)
        deadletter_agent.attach(
            self.app,
            self.ch,
            self.metrics,
            batch_messages=s.sink_batch_messages,
            flush_s=s.sink_flush_s,
            retry_max_s=s.sink_retry_max_s,
        )
        await self.app.start()

    async def _start_rule_feed(self, validator: Validator) -> None:
        s = self.settings
        assert self.rules is not None
        feed = RuleFeed(validator, self.rules.on_events, self.metrics, seal=self.seal)
        self.feed_app = build_app(s, self.bootstrap, group=f"{s.consumer_group}-rules")
        rule_feed_agent.attach(self.feed_app, feed, batch_messages=s.sink_batch_messages, flush_s=s.sink_flush_s)
        await self.feed_app.start()

    async def _start_http(self, validator: Validator) -> None:
        """One HTTP server per process: ingest (gateway), the center and its APIs (center), /metrics and /healthz (all)."""
        s = self.settings
        roles = s.role_set
        gateway = self._gateway(validator) if "gateway" in roles else None
        web_app = build_web_app(
            gateway,
            self.metrics,
            health=self.health,
            stats=self.stats if self.ch is not None else None,
            max_body_bytes=s.max_body_bytes,
        )
        if "center" in roles:
            assert self.ch is not None and self.reloader is not None
            indicators_api.add_routes(web_app, self.ch, self.registry)
            rules_api.add_routes(web_app, self.reloader)
            # A broken scorecard stops the start, naming the file and the node: better than ranking on a wrong tree.
            scores_api.add_routes(web_app, self.ch, self.registry, [load_scorecard(path) for path in s.scorecard_paths])
            await self._mount_center(web_app)
        self.runner = web.AppRunner(web_app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, s.http_host, s.http_port)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1] if s.http_port == 0 else s.http_port  # type: ignore[union-attr]

    def _gateway(self, validator: Validator) -> Gateway:
        s = self.settings
        assert self.producer is not None
        producer = self.producer

        async def send_one(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> None:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)

        async def send_many(topic: str, items: list[tuple[bytes, bytes]]) -> None:
            await kafka_conn.send_all(producer, topic, items)

        tokens = NodeTokens.load(s.tokens_path) if s.tokens_path.exists() else NodeTokens({})
        if not len(tokens):
            log.warning("no_node_tokens", path=str(s.tokens_path), hint="issue them with `govpulse tokens issue`")
        return Gateway(
            validator,
            tokens,
            send_one,
            send_many,
            self.metrics,
            seal=self.seal,
            max_batch_events=s.max_batch_events,
            max_body_bytes=s.max_body_bytes,
        )

    async def _mount_center(self, web_app: web.Application) -> None:
        """The monitoring center: login in front of the API, the alert board's API, live feed and page."""
        s = self.settings
        assert self.redis is not None and self.ch is not None
        self.users = UserStore(s.users_path)
        sessions = SessionStore(
            self.redis, ttl_s=s.login_ttl_s, max_failures=s.login_max_failures, lockout_s=s.login_lockout_s
        )
        registry = self.registry

        def city_names() -> dict[str, str]:
            return {str(c.code): c.name for c in registry.cities()}

        auth = Auth(self.users, sessions, self.metrics, city_names, secure_cookie=s.cookie_secure)
        web_app.middlewares.append(auth.middleware)
        auth.add_routes(web_app)
        assert self.rules is not None
        desk = AlertDesk(self.rules, self.book, self.ch, self.redis, self.metrics)

        async def session_alive(request: web.Request) -> bool:
            token = request.get(TOKEN, "")
            try:
                found = await sessions.get(token) if token else None
            except Exception:  # noqa: BLE001 - Redis down: keep the open feed; it is checked again once Redis is back
                return True
            return found is not None and self.users.get(request[USER].username) is not None

        # The feed's subscription gets a client without retries: a silent reconnect would hide the gap in which
        # messages were lost, and the feed must see it to send every board a fresh snapshot.
        self._feed_redis = aioredis.from_url(self.redis_url)

        def feed(center: AlertCenter) -> LiveFeed:
            return LiveFeed(self._feed_redis, self.metrics, center.render, center.snapshot, session_alive)  # type: ignore[arg-type]

        self.center = AlertCenter(
            self.registry,
            lambda: self.rule_infos,
            self.redis,
            self.ch,
            desk,
            feed,
            grafana_url=s.grafana_url,
            reload_rules=self.reload_rules,
        )
        self.center.add_routes(web_app)
        await self.center.feed.start()
        page.add_routes(web_app)

    async def _tick_rules(self) -> None:
        assert self.rules is not None and self.reloader is not None
        loop = asyncio.get_running_loop()
        next_full = loop.time() + self.settings.rule_tick_s
        while True:
            # Wake for the full round, or earlier when an indicator rule falls due: an alert then waits for its
            # rule's `every` only, not for `every` plus up to one tick.
            await asyncio.sleep(max(0.05, min(next_full - loop.time(), self.rules.seconds_until_due())))
            try:
                if loop.time() >= next_full:
                    next_full = loop.time() + self.settings.rule_tick_s
                    changed = self.reloader.poll()
                    if changed is not None:
                        self._use_rules(changed)
                    await self.rules.tick()
                else:
                    await self.rules.evaluate_due()
                await self._save_alerts()
            except Exception as exc:  # noqa: BLE001 - the timer must outlive any one bad round
                log.warning("rule_round_failed", error=repr(exc)[:300])

    async def _inject_clickhouse_fault(self, spec: str) -> None:
        start, seconds = (float(x) for x in spec.split(":"))
        await asyncio.sleep(start)
        assert self.ch is not None
        log.warning("fault_injected", target="clickhouse_writes", seconds=seconds)
        self.ch.fail_writes_for(seconds)

    def _use_rules(self, rules: RuleSet) -> None:
        assert self.rules is not None
        self.rules.use(build_rules(rules, self.registry, self.book, datetime.now(UTC)))
        self.rule_infos = rule_infos(rules)

    async def reload_rules(self) -> dict[str, Any]:
        """Re-read the rule files now (the monitoring center's reload); an invalid change is refused and reported."""
        assert self.reloader is not None
        changed = self.reloader.poll(force=True)
        if changed is not None:
            self._use_rules(changed)
        return asdict(self.reloader.status)

    async def _restore_alerts(self) -> None:
        """Pick up the alert state a previous run left in Redis, so a restart does not fire everything again."""
        assert self.redis is not None
        try:
            saved = await self.redis.get(BOOK_KEY)
            if saved:
                self.book.restore(json.loads(saved))
                log.info("alerts_restored", active=len(self.book.active()))
        except Exception as exc:  # noqa: BLE001 - a lost snapshot costs repeated notices, not a dead worker
            log.warning("alerts_restore_failed", error=repr(exc)[:300])

    async def _save_alerts(self) -> None:
        assert self.redis is not None
        try:
            await self.redis.set(BOOK_KEY, json.dumps(self.book.snapshot(), default=str))
        except Exception as exc:  # noqa: BLE001 - counted; the next round tries again
            self.metrics.alert_output_failures.labels("redis").inc()
            log.warning("alerts_save_failed", error=repr(exc)[:300])

    async def _registry_changed(self) -> None:
        if self.ch is None:
            return  # a gateway keeps the registry in memory only
        try:
            await sync_org(self.ch, self.registry)
        except Exception as exc:  # noqa: BLE001 - the next update retries; the follower must keep going
            log.warning("org_dims_sync_failed", error=str(exc)[:300])

    def health(self) -> dict[str, Any]:
        ready = self.follower is not None and self.follower.ready.is_set()
        roles = self.settings.role_set
        consuming = (
            (self.app is not None) if "worker" in roles else (self.feed_app is not None or "center" not in roles)
        )
        return {
            "ok": ready and consuming,
            "roles": sorted(roles),
            "registry_ready": ready,
            "registry": self.registry.counts(),
        }

    async def stats(self) -> dict[str, Any]:
        """Rows stored per table: what an operator checks first when data seems missing."""
        assert self.ch is not None
        tables = [*ROW_BUILDERS, "rejections"]
        sql = " UNION ALL ".join(f"SELECT '{t}', count() FROM {t}" for t in tables)
        rows = await self.ch.query(sql)
        return {"rows": {name: int(count) for name, count in rows}}

    # -- demo helpers --------------------------------------------------------------------
    def _simulator_tokens(self) -> dict[str, str]:
        """Tokens for every source, kept in data_dir so restarts reuse them."""
        s = self.settings
        plain_path = s.data_dir / "simulator_tokens.json"
        # City data nodes and video nodes both send.
        sources = [src.source_id for src in self.registry.sources()]
        sources += [node.node_id for node in self.registry.nodes()]
        if plain_path.exists():
            tokens: dict[str, str] = json.loads(plain_path.read_text(encoding="utf-8"))
            if set(tokens) >= set(sources):
                return tokens
        tokens = issue_tokens(sources, s.tokens_path)
        write_plain_tokens(tokens, plain_path)
        return tokens
