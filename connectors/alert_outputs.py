"""Where alert notices go: the `alerts` topic, ClickHouse history, Redis for live viewers.

The topic and the history are the record and must be complete, so they are
retried until written. Redis is for the live board only: when it is down,
evaluation goes on, the failure is counted, and the active set is rewritten
whole once Redis is back, so viewers catch up.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
import structlog

from connectors.clickhouse.client import ClickHouse
from streams.alerts.model import Alert, Notice
from streams.metrics import Metrics
from streams.retry import retry_forever

log = structlog.get_logger(__name__)

ALERTS_TOPIC = "alerts"
ACTIVE_KEY = "govpulse:alerts:active"
CHANNEL = "govpulse:alerts"
#: Published once the active set is whole again after an outage: notices of the gap were never published.
RESYNC = {"type": "resync"}
#: Silences created and removed, for live viewers' silence lists.
SILENCE_CHANNEL = "govpulse:silences"
NOTICE_COLUMNS = (
    "notice_key",
    "fingerprint",
    "episode",
    "kind",
    "rule_id",
    "severity",
    "state",
    "city_code",
    "group_keys",
    "labels",
    "value",
    "evidence",
    "started_at",
    "at",
    "acknowledged_by",
    "silenced",
    "inhibited_by",
    "silenced_by",
)

SendAll = Callable[[str, list[tuple[bytes, bytes]]], Awaitable[None]]


def _city(alert: Alert) -> int:
    city = alert.group.get("city") or alert.labels.get("city") or "0"
    return int(city) if str(city).isdigit() else 0


def notice_row(notice: Notice) -> tuple[Any, ...]:
    a = notice.alert
    return (
        notice.key,
        a.fingerprint,
        a.episode,
        notice.kind,
        a.rule_id,
        a.severity,
        a.state,
        _city(a),
        {k: str(v) for k, v in a.group.items()},
        {k: str(v) for k, v in a.labels.items()},
        a.last_value,
        json.dumps(dict(a.evidence), ensure_ascii=False, default=str)[:65_536],
        a.started_at,
        notice.at,
        a.ack.by if a.ack else "",
        int(notice.silenced),
        notice.inhibited_by or "",
        a.silenced_by or "",
    )


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, default=str).encode()


class AlertOutputs:
    def __init__(
        self, send_all: SendAll, ch: ClickHouse, redis: aioredis.Redis, metrics: Metrics, *, retry_max_s: float = 30.0
    ) -> None:
        self.send_all = send_all
        self.ch = ch
        self.redis = redis
        self.metrics = metrics
        self.retry_max_s = retry_max_s
        self._redis_dirty = True  # write the whole active set on the first success
        self._redis_lost = False  # notices went unpublished: tell live viewers to take a snapshot once back

    async def publish(self, notices: Sequence[Notice], active: Sequence[Alert]) -> None:
        """Record notices (topic, history), then refresh the live view (Redis); `active` is the book's current set."""
        if notices:
            items = [(n.alert.fingerprint.encode(), _json(n.to_dict())) for n in notices]
            await retry_forever(
                "alerts_topic", lambda: self.send_all(ALERTS_TOPIC, items), self.metrics, max_delay_s=self.retry_max_s
            )
            rows = [notice_row(n) for n in notices]
            await retry_forever(
                "alert_notices",
                lambda: self.ch.insert("alert_notices", rows, NOTICE_COLUMNS),
                self.metrics,
                max_delay_s=self.retry_max_s,
            )
        await self._live(notices, active)

    async def _live(self, notices: Sequence[Notice], active: Sequence[Alert]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=True)
            if self._redis_dirty:
                pipe.delete(ACTIVE_KEY)
                for alert in active:
                    pipe.hset(ACTIVE_KEY, alert.fingerprint, _json(alert.to_dict()))
            else:
                for n in notices:
                    if n.alert.state == "resolved":
                        pipe.hdel(ACTIVE_KEY, n.alert.fingerprint)
                    else:
                        pipe.hset(ACTIVE_KEY, n.alert.fingerprint, _json(n.alert.to_dict()))
            for n in notices:
                pipe.publish(CHANNEL, _json(n.to_dict()))
            if self._redis_lost:
                pipe.publish(CHANNEL, _json(RESYNC))
            await pipe.execute()
            self._redis_dirty = self._redis_lost = False
        except Exception as exc:  # noqa: BLE001 - the live view must never hold up evaluation
            self._redis_dirty = self._redis_lost = True
            self.metrics.alert_output_failures.labels("redis").inc()
            log.warning("alerts_redis_unavailable", error=str(exc)[:300])
