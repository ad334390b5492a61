"""Duty-officer actions: acknowledge, silence, unsilence, each checked against the user's scope and recorded.

The change goes through the rule runner, so it never interleaves with an
evaluation round, and its notices take the usual way (topic, history, Redis);
the action itself is written to `alert_actions` with who, when and why
before the API answers. Silence changes are also announced on their own
Redis channel, so every open board updates its silence list.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import structlog

from connectors.alert_outputs import SILENCE_CHANNEL
from connectors.center.history import ACTION_COLUMNS, action_row
from connectors.clickhouse.client import ClickHouse
from streams.alerts import actions
from streams.alerts.actions import NotFound
from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Alert, Silence, to_iso
from streams.auth.access import Principal, alert_city
from streams.metrics import Metrics
from streams.retry import retry_forever
from streams.rules.runner import RuleRunner

log = structlog.get_logger(__name__)


class AlertDesk:
    def __init__(
        self, runner: RuleRunner, book: AlertBook, ch: ClickHouse, redis: aioredis.Redis, metrics: Metrics
    ) -> None:
        self.runner = runner
        self.book = book
        self.ch = ch
        self.redis = redis
        self.metrics = metrics

    async def acknowledge(self, who: Principal, fingerprint: str, comment: object) -> Alert:
        text = actions.comment(comment)
        alert = self.book.get(fingerprint)
        if alert is None:
            raise NotFound(f"no alert {fingerprint}")
        who.may_act_on(alert_city(alert.to_dict()))
        notices = await self.runner.act(lambda at: self.book.acknowledge(fingerprint, who.username, at, text))
        if not notices:
            raise actions.not_acknowledgeable(self.book.get(fingerprint))
        acked = notices[0].alert
        await self._record(
            who,
            "acknowledge",
            acked.ack.at if acked.ack else datetime.now(UTC),
            fingerprint=fingerprint,
            city=alert_city(acked.to_dict()),
            comment=text,
        )
        return acked

    def silences(self, who: Principal) -> list[Silence]:
        return sorted((s for s in self.book.silences() if who.owns_silence(s.matchers)), key=lambda s: s.ends_at)

    async def silence(self, who: Principal, body: Mapping[str, Any]) -> Silence:
        matchers = who.scoped_matchers(actions.parse_matchers(body.get("matchers")))
        now = datetime.now(UTC)
        starts, ends = actions.silence_span(body.get("duration_s"), now)
        text = actions.comment(body.get("comment"))
        silence = Silence(f"s-{uuid.uuid4().hex[:12]}", tuple(matchers), starts, ends, who.username, text)
        await self.runner.act(lambda at: self.book.add_silence(silence, at))
        city = actions.city_of(matchers)
        await self._record(
            who, "silence", now, silence_id=silence.id, city=city, comment=text, detail=silence.to_dict()
        )
        await self._announce("created", silence, who.username, now)
        return silence

    async def unsilence(self, who: Principal, silence_id: str) -> None:
        who.require_operator()
        silence = next((s for s in self.book.silences() if s.id == silence_id), None)
        if silence is None or not who.owns_silence(silence.matchers):
            raise NotFound(f"no silence {silence_id}")  # another city's silence is not even named
        now = datetime.now(UTC)
        await self.runner.act(lambda at: self.book.remove_silence(silence_id, at))
        city = actions.city_of(silence.matchers)
        await self._record(who, "unsilence", now, silence_id=silence_id, city=city, detail=silence.to_dict())
        await self._announce("removed", silence, who.username, now)

    async def record(self, who: Principal, action: str, detail: dict[str, Any]) -> None:
        """Record an action that is not about one alert (a rule reload)."""
        await self._record(who, action, datetime.now(UTC), detail=detail)

    async def _record(self, who: Principal, action: str, at: datetime, **fields: Any) -> None:
        row = action_row(uuid.uuid4().hex, at, who.username, who.role, action, **fields)
        await retry_forever(
            "alert_actions",
            lambda: self.ch.insert("alert_actions", [row], ACTION_COLUMNS),
            self.metrics,
            max_delay_s=5.0,
        )
        self.metrics.alert_actions.labels(action).inc()
        log.info(
            "alert_action",
            action=action,
            actor=who.username,
            fingerprint=fields.get("fingerprint", ""),
            silence=fields.get("silence_id", ""),
        )

    async def _announce(self, action: str, silence: Silence, by: str, at: datetime) -> None:
        message = {"action": action, "silence": silence.to_dict(), "by": by, "at": to_iso(at)}
        try:
            await self.redis.publish(SILENCE_CHANNEL, json.dumps(message, ensure_ascii=False))
        except Exception as exc:  # noqa: BLE001 - boards resync their silence list when they reconnect
            self.metrics.alert_output_failures.labels("redis").inc()
            log.warning("silence_announce_failed", error=str(exc)[:200])


def silences_json(silences: Sequence[Silence]) -> list[dict[str, Any]]:
    return [s.to_dict() for s in silences]
