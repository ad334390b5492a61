"""The center's rule engine: notifiers, the rules and their alert book, hot reload, and the timer of rule rounds.

It is fed by the worker in the same process, or else by the center's own rule feed.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import structlog

from agents.services.base import running, stop_step
from agents.services.clickhouse import ClickHouseStore
from agents.services.kafka import KafkaProducer
from agents.services.redis import RedisClients
from agents.settings import Settings
from connectors.alert_outputs import AlertOutputs
from connectors.center.alert_view import RuleInfo, rule_infos
from connectors.notifiers import WebhookNotifier
from streams.alerts.lifecycle import AlertBook
from streams.indicators.installed import DefinedReloader
from streams.metrics import Metrics
from streams.registry import Registry
from streams.rules import spike_state
from streams.rules.build import build as build_rules
from streams.rules.loader import RuleSet, read_rules
from streams.rules.org_labels import INHIBITIONS, with_org_labels
from streams.rules.reloader import RuleReloader
from streams.rules.runner import RuleRunner

log = structlog.get_logger(__name__)
BOOK_KEY = "govpulse:alerts:book"
#: What the spike rules' detectors have learned (`streams.rules.spike_state`), saved beside the alert book.
SPIKE_KEY = "govpulse:rules:spike_state"


class Notifiers:
    """Webhook receivers of the rules' routes."""

    name = "notifier"

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._notifier: WebhookNotifier | None = None

    @property
    def notifier(self) -> WebhookNotifier:
        return running(self._notifier, "the webhook notifier")

    async def start(self) -> None:
        s = self.settings
        # URLs may carry credentials: they stay SecretStr until here and are never logged.
        self._notifier = WebhookNotifier(
            {k: v.get_secret_value() for k, v in s.webhooks.items()},
            self.metrics,
            allowed_hosts=s.webhook_allowed_hosts,
        )
        await self._notifier.start()

    async def stop(self) -> None:
        if self._notifier is not None:
            await stop_step(self.name, self._notifier.stop)


class RulesEngine:
    """The rules loaded from the rule files, their alert book (restored from Redis), and their outputs."""

    name = "rules"

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        book: AlertBook,
        metrics: Metrics,
        clickhouse: ClickHouseStore,
        redis: RedisClients,
        producer: KafkaProducer,
        notifiers: Notifiers,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.book = book
        self.metrics = metrics
        self.clickhouse = clickhouse
        self.redis = redis
        self.producer = producer
        self.notifiers = notifiers
        #: What the monitoring center shows of each rule, by id.
        self.rule_infos: dict[str, RuleInfo] = {}
        self._runner: RuleRunner | None = None
        self._reloader: RuleReloader | None = None
        self._indicators: DefinedReloader | None = None
        #: The last save of the spike state failed: the next round saves it even if nothing new was learned.
        self._spike_unsaved = False

    @property
    def runner(self) -> RuleRunner:
        return running(self._runner, "the rule engine")

    @property
    def reloader(self) -> RuleReloader:
        return running(self._reloader, "the rule engine")

    @property
    def indicators(self) -> DefinedReloader:
        return running(self._indicators, "the rule engine")

    async def start(self) -> None:
        ch = self.clickhouse.client
        self.book.set_inhibitions(INHIBITIONS)
        registry = self.registry
        self._runner = RuleRunner(
            self.book,
            AlertOutputs(self.producer.send_all, ch, self.redis.client, self.metrics),
            ch,
            self.metrics,
            notifier=self.notifiers.notifier,
            labeler=lambda obs: with_org_labels(obs, registry),
        )
        rules_path = self.settings.rules_path
        # Defined indicators first: the rules that read them are validated against the catalogue holding them.
        self._indicators = DefinedReloader(self.settings.indicators_path, lambda: read_rules(rules_path)[1])
        self._indicators.load_initial()
        self._reloader = RuleReloader(rules_path, self.metrics)
        self.use(self._reloader.load_initial())
        await self._restore_alerts()
        await self._restore_spike_state()

    async def stop(self) -> None:
        pass  # the alert book is saved after every round; its outputs belong to the services stopped after this one

    def use(self, rules: RuleSet) -> None:
        setup = build_rules(rules, self.registry, self.book, datetime.now(UTC))
        # A spike rule whose spike settings did not change keeps what its detectors learned; the others rebuild.
        kept = spike_state.carry(self.runner.setup.indicator_checks, setup.indicator_checks)
        if kept:
            log.info("spike_state_kept", checks=kept)
        self.runner.use(setup)
        self.rule_infos = rule_infos(rules)

    async def reload(self) -> dict[str, Any]:
        """Re-read the indicator and rule files now (the monitoring center's reload); an invalid change is refused
        and reported."""
        self.indicators.poll(force=True)
        changed = self.reloader.poll(force=True)
        if changed is not None:
            self.use(changed)
        return asdict(self.reloader.status)

    def poll(self) -> None:
        """Take changed indicator and rule files; rules are re-read after an indicator change, which they may need."""
        indicators_changed = self.indicators.poll() is not None
        changed = self.reloader.poll(force=indicators_changed)
        if changed is not None:
            self.use(changed)

    async def save_alerts(self) -> None:
        try:
            await self.redis.client.set(BOOK_KEY, json.dumps(self.book.snapshot(), default=str))
        except Exception as exc:  # noqa: BLE001 - counted; the next round tries again
            self.metrics.alert_output_failures.labels("redis").inc()
            log.warning("alerts_save_failed", error=repr(exc)[:300])

    async def save_spike_state(self) -> None:
        """Save the spike rules' learned state when a round learned something (the JSON is built off the loop)."""
        checks = self.runner.setup.indicator_checks
        if not (self._spike_unsaved or spike_state.changed(checks)):
            return
        data = spike_state.snapshot(checks)
        try:
            await self.redis.client.set(SPIKE_KEY, await asyncio.to_thread(json.dumps, data))
            self._spike_unsaved = False
        except Exception as exc:  # noqa: BLE001 - counted; the next round tries again
            self._spike_unsaved = True
            self.metrics.alert_output_failures.labels("redis").inc()
            log.warning("spike_state_save_failed", error=repr(exc)[:300])

    async def _restore_spike_state(self) -> None:
        """Pick up the spike state a previous run saved; a check with none rebuilds it from ClickHouse history."""
        try:
            saved = await self.redis.client.get(SPIKE_KEY)
            if saved:
                restored = spike_state.restore(self.runner.setup.indicator_checks, json.loads(saved))
                log.info("spike_state_restored", checks=restored)
        except Exception as exc:  # noqa: BLE001 - a lost snapshot costs a rebuild from history, not a dead worker
            log.warning("spike_state_restore_failed", error=repr(exc)[:300])

    async def _restore_alerts(self) -> None:
        """Pick up the alert state a previous run left in Redis, so a restart does not fire everything again."""
        try:
            saved = await self.redis.client.get(BOOK_KEY)
            if saved:
                self.book.restore(json.loads(saved))
                log.info("alerts_restored", active=len(self.book.active()))
        except Exception as exc:  # noqa: BLE001 - a lost snapshot costs repeated notices, not a dead worker
            log.warning("alerts_restore_failed", error=repr(exc)[:300])


class RuleTimer:
    """Rule rounds: indicator rules when due, absences and silences every tick, the rule files polled for changes."""

    name = "rule timer"

    def __init__(self, settings: Settings, engine: RulesEngine) -> None:
        self.settings = settings
        self.engine = engine
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._tick(), name="rule-timer")

    async def stop(self) -> None:
        task = self._task
        if task is not None:
            task.cancel()
            await stop_step(self.name, lambda: asyncio.gather(task, return_exceptions=True))

    async def _tick(self) -> None:
        rules = self.engine.runner
        loop = asyncio.get_running_loop()
        next_full = loop.time() + self.settings.rule_tick_s
        while True:
            # Wake for the full round, or earlier when an indicator rule falls due: an alert then waits for its
            # rule's `every` only, not for `every` plus up to one tick.
            await asyncio.sleep(max(0.05, min(next_full - loop.time(), rules.seconds_until_due())))
            try:
                if loop.time() >= next_full:
                    next_full = loop.time() + self.settings.rule_tick_s
                    self.engine.poll()
                    await rules.tick()
                else:
                    await rules.evaluate_due()
                await self.engine.save_alerts()
                await self.engine.save_spike_state()
            except Exception as exc:  # noqa: BLE001 - the timer must outlive any one bad round
                log.warning("rule_round_failed", error=repr(exc)[:300])
