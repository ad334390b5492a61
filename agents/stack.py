"""The running stack of one process: its services, in the order its roles need them.

In the embedded mode the broker and Redis are child processes and ClickHouse
is chDB in this process; with real DSNs the same services connect to them
instead. `start()` starts the services of this process's roles in the order
`services()` declares; `stop()` stops the started ones in reverse, every one
even if an earlier one failed, and leaves no child process behind.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial
from typing import Any

import faust
import redis.asyncio as aioredis
import structlog
from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from agents.deployment import check_deployment
from agents.services.base import Service
from agents.services.broker_watch import BrokerWatch
from agents.services.center import MonitoringCenter
from agents.services.children import EmbeddedChildren
from agents.services.clickhouse import ClickHouseFault, ClickHouseStore
from agents.services.gateway import DemoTokens, build_gateway
from agents.services.http_server import HttpServer
from agents.services.kafka import KafkaProducer, KafkaTopics, RegistrySync
from agents.services.redis import RedisClients
from agents.services.reports import ReportSchedule
from agents.services.rule_feed import RuleFeedService
from agents.services.rules import Notifiers, RulesEngine, RuleTimer
from agents.services.spool import GatewaySpool
from agents.services.worker import Worker
from agents.settings import ROLES, Settings
from connectors.center.alerts_api import AlertCenter
from connectors.clickhouse.client import ClickHouse
from connectors.embedded import ChildProcess
from streams.alerts.lifecycle import AlertBook
from streams.auth.users import UserStore
from streams.ingest.processor import IngestProcessor
from streams.metrics import Metrics
from streams.registry import Registry
from streams.rules.runner import RuleRunner
from streams.validation import TimeLimits, Validator
from streams.vetted import BatchSeal

log = structlog.get_logger(__name__)


class Stack:
    def __init__(self, settings: Settings, *, demo_tokens: bool = False) -> None:
        s = self.settings = settings
        self.metrics = Metrics(CollectorRegistry())
        self.registry = Registry()
        self.book = AlertBook()
        key = s.batch_seal_key.get_secret_value()
        self.seal = BatchSeal(key.encode()) if key else BatchSeal.random()
        self.validator = Validator(
            self.registry,
            TimeLimits(max_age=timedelta(seconds=s.max_event_age_s), max_future=timedelta(seconds=s.max_future_skew_s)),
        )
        self._want_demo_tokens = demo_tokens
        roles = s.role_set
        # Every service is built here, doing no I/O; `services()` picks the ones this process's roles run.
        self._children = EmbeddedChildren(s)
        self._topics = KafkaTopics(s, self._children)
        self._clickhouse = ClickHouseStore(s, self._topics)
        self._redis = RedisClients(self._children)
        self._producer = KafkaProducer(self._children)
        self._notifiers = Notifiers(s, self.metrics)
        stores = self._clickhouse if roles & {"worker", "center"} else None
        self._registry_sync = RegistrySync(s, self._children, self._producer, self.registry, self.metrics, stores)
        self._rules = RulesEngine(
            s, self.registry, self.book, self.metrics, self._clickhouse, self._redis, self._producer, self._notifiers
        )
        center_rules = self._rules if "center" in roles else None
        self._worker = Worker(
            s, self._children, self._clickhouse, self._producer, self.validator, self.metrics, self.seal, center_rules
        )
        self._rule_feed = RuleFeedService(s, self._children, self._rules, self.validator, self.metrics, self.seal)
        self._demo_tokens = DemoTokens(s, self.registry)
        self._center = MonitoringCenter(
            s, self.registry, self.book, self.metrics, self._clickhouse, self._redis, self._rules
        )
        # The embedded broker keeps nothing across a restart; a broker of our own (Kafka) keeps what it acked.
        self._spool = GatewaySpool(s, self._children, self._producer, self.metrics)
        spool = self._spool if "gateway" in roles and s.embedded_kafka else None
        self._http = HttpServer(
            s,
            self.metrics,
            gateway=partial(build_gateway, s, self.validator, self._producer, self.metrics, self.seal, spool)
            if "gateway" in roles
            else None,
            center=self._center if "center" in roles else None,
            health=self.health,
            stats=self._clickhouse.row_counts if stores is not None else None,
        )
        self._timer = RuleTimer(s, self._rules)
        self._reports = ReportSchedule(s, self._clickhouse, self.registry)
        self._broker_watch = BrokerWatch(s, self._children, self.metrics)
        self._fault = ClickHouseFault(s.fault_clickhouse_writes, self._clickhouse)
        self._started: list[Service] = []

    def services(self) -> list[Service]:
        """The services of this process's roles, in the order they start; they stop in reverse.

        Reversed, the order is also what a clean stop needs: the live feed and the gateway first (no new work), then
        the worker (its write in flight lands before it leaves the group, so that its offsets are committed), the
        rule feed, the registry follower, the notifier, the producer, Redis, ClickHouse, and the child processes.
        """
        s = self.settings
        roles = s.role_set
        worker, center = "worker" in roles, "center" in roles
        plan: list[tuple[Service, bool]] = [
            (self._children, True),
            (self._topics, True),
            (self._clickhouse, worker or center),
            (self._redis, center),
            (self._producer, True),
            (self._notifiers, center),
            (self._registry_sync, True),
            # Before the worker: it stops after it, so the worker's last commit releases what it stored.
            (self._spool, "gateway" in roles and s.embedded_kafka),
            (self._rules, center),
            (self._worker, worker),
            (self._rule_feed, center and not worker),
            # Issued before the gateway starts, which reads the token file then.
            (self._demo_tokens, self._want_demo_tokens),
            (self._http, True),
            (self._timer, center),
            (self._reports, center and s.report_schedule),
            (self._fault, bool(s.fault_clickhouse_writes) and (worker or center)),
            (self._broker_watch, s.embedded_kafka and s.embedded_broker_max_mb > 0),
        ]
        return [service for service, wanted in plan if wanted]

    async def start(self) -> None:
        """Start every service of the roles in order; if one fails, stop those started and raise."""
        s = self.settings
        check_deployment(s)
        roles = s.role_set
        if roles and roles != frozenset(ROLES) and not s.batch_seal_key.get_secret_value():
            log.warning(
                "batch_seal_key_unset",
                hint="set GOVPULSE_BATCH_SEAL_KEY alike on gateways, workers and the center "
                "so that a batch is validated once, at the gateway",
            )
        s.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for service in self.services():
                # Listed before it starts: a start that fails half-way is undone by the service's own stop.
                self._started.append(service)
                await service.start()
        except BaseException:
            await self.stop()
            raise
        log.info("stack_ready", roles=sorted(roles), http=self.base_url, kafka=self.bootstrap)

    async def stop(self) -> None:
        """Stop the started services in reverse; each one stops even if an earlier one failed."""
        started, self._started = self._started, []
        if not started:
            return
        for service in reversed(started):
            try:
                await service.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                log.warning("stop_failed", part=service.name, error=str(exc)[:300])
        log.info("stack_stopped")

    @property
    def renewal(self) -> asyncio.Event:
        """Set when the embedded broker has reached its memory limit and the process should renew itself."""
        return self._broker_watch.renew

    @property
    def listen_fd(self) -> int | None:
        """A descriptor of the HTTP listening socket that outlives the server's stop (for a renewal)."""
        return self._http.handoff_fd

    # -- what the process serves ---------------------------------------------------------
    def health(self) -> dict[str, Any]:
        ready = self._registry_sync.ready()
        roles = self.settings.role_set
        if "worker" in roles:
            consuming = self._worker.consuming()
        else:
            consuming = self._rule_feed.consuming() or "center" not in roles
        return {
            "ok": ready and consuming,
            "roles": sorted(roles),
            "registry_ready": ready,
            "registry": self.registry.counts(),
        }

    async def stats(self) -> dict[str, Any]:
        """Rows stored per table: what an operator checks first when data seems missing."""
        return await self._clickhouse.row_counts()

    async def reload_rules(self) -> dict[str, Any]:
        """Re-read the rule files now (the monitoring center's reload); an invalid change is refused and reported."""
        return await self._rules.reload()

    # -- handles, for the CLI and tests; each raises NotRunning when this process's roles do not run it ----------
    @property
    def base_url(self) -> str:
        return f"http://{self.settings.http_host}:{self._http.port}"

    @property
    def bootstrap(self) -> str:
        """host:port of the Kafka broker."""
        return self._children.bootstrap

    @property
    def redis_url(self) -> str:
        return self._children.redis_url

    @property
    def children(self) -> list[ChildProcess]:
        """The embedded broker and Redis server, when the DSNs say `embedded`."""
        return self._children.children

    @property
    def ch(self) -> ClickHouse:
        return self._clickhouse.client

    @property
    def generations(self) -> dict[str, int]:
        return self._clickhouse.generations

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis.client

    @property
    def producer(self) -> AIOKafkaProducer:
        return self._producer.producer

    @property
    def rules(self) -> RuleRunner:
        return self._rules.runner

    @property
    def processor(self) -> IngestProcessor:
        return self._worker.processor

    @property
    def app(self) -> faust.App:
        """The worker's Faust app."""
        return self._worker.app

    @property
    def runner(self) -> web.AppRunner:
        return self._http.runner

    @property
    def center(self) -> AlertCenter:
        return self._center.center

    @property
    def users(self) -> UserStore:
        return self._center.users

    @property
    def demo_tokens(self) -> dict[str, str]:
        """Plain tokens by source, for the simulator (`Stack(..., demo_tokens=True)`); empty otherwise."""
        return self._demo_tokens.tokens if self._want_demo_tokens else {}
