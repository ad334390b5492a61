"""The center's rule feed, when no worker shares its process: the raw topics, in a consumer group of its own."""

from __future__ import annotations

import faust

from agents import rule_feed as rule_feed_agent
from agents.app import build_app
from agents.services.base import running, stop_step
from agents.services.children import EmbeddedChildren
from agents.services.rules import RulesEngine
from agents.settings import Settings
from streams.metrics import Metrics
from streams.rule_feed import RuleFeed
from streams.validation import Validator
from streams.vetted import BatchSeal


class RuleFeedService:
    name = "rule feed"

    def __init__(
        self,
        settings: Settings,
        children: EmbeddedChildren,
        rules: RulesEngine,
        validator: Validator,
        metrics: Metrics,
        seal: BatchSeal,
    ) -> None:
        self.settings = settings
        self.children = children
        self.rules = rules
        self.validator = validator
        self.metrics = metrics
        self.seal = seal
        self._app: faust.App | None = None

    @property
    def app(self) -> faust.App:
        return running(self._app, "the rule feed")

    def consuming(self) -> bool:
        return self._app is not None

    async def start(self) -> None:
        s = self.settings
        feed = RuleFeed(self.validator, self.rules.runner.on_events, self.metrics, seal=self.seal)
        self._app = build_app(s, self.children.bootstrap, group=f"{s.consumer_group}-rules")
        rule_feed_agent.attach(self._app, feed, batch_messages=s.sink_batch_messages, flush_s=s.sink_flush_s)
        await self._app.start()

    async def stop(self) -> None:
        if self._app is not None:
            await stop_step(self.name, self._app.stop)
