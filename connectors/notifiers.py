"""Webhook notifications of alerts, retried with backoff, never in the way of evaluation.

`submit` only queues; a background task delivers. A receiver that is down
gets retries (exponential backoff) and then the notice is given up, counted
and logged; the queue is bounded, and when it is full the oldest waiting
notice is dropped (also counted), so a dead receiver cannot grow memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping, Sequence

import aiohttp
import structlog

from streams.alerts.model import Notice
from streams.metrics import Metrics
from streams.webhook_targets import check_targets

log = structlog.get_logger(__name__)

NOTIFY_KINDS = frozenset({"firing", "resolved"})


class WebhookNotifier:
    def __init__(
        self,
        urls: Mapping[str, str],
        metrics: Metrics,
        *,
        allowed_hosts: Collection[str],
        max_attempts: int = 6,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        timeout_s: float = 10.0,
        queue_size: int = 10_000,
    ) -> None:
        check_targets(urls, allowed_hosts)
        self.urls = dict(urls)
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue(maxsize=queue_size)
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)
        self._task = asyncio.create_task(self._deliver(self._session), name="webhook-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def submit(self, notices: Sequence[Notice], routes: Mapping[str, Sequence[str]]) -> None:
        """Queue the firing and resolved notices for their rules' webhook routes; never waits."""
        for notice in notices:
            if notice.kind not in NOTIFY_KINDS or notice.suppressed:
                continue
            body = json.dumps(notice.to_dict(), ensure_ascii=False, default=str).encode()
            for route in routes.get(notice.alert.rule_id, ()):
                kind, _, name = route.partition(":")
                if kind != "webhook" or name not in self.urls:
                    continue
                if self._queue.full():
                    self._queue.get_nowait()
                    self.metrics.notifications.labels(route, "dropped").inc()
                self._queue.put_nowait((name, body))

    async def _deliver(self, session: aiohttp.ClientSession) -> None:
        while True:
            name, body = await self._queue.get()
            await self._send(session, name, body)

    async def _send(self, session: aiohttp.ClientSession, name: str, body: bytes) -> None:
        route = f"webhook:{name}"
        delay = self.backoff_s
        for attempt in range(1, self.max_attempts + 1):
            try:
                async with session.post(
                    self.urls[name], data=body, headers={"Content-Type": "application/json"}, allow_redirects=False
                ) as resp:
                    if resp.status < 300:
                        self.metrics.notifications.labels(route, "sent").inc()
                        return
                    error = f"HTTP {resp.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = repr(exc)[:200]
            self.metrics.notifications.labels(route, "retried").inc()
            log.warning("webhook_failed", route=route, attempt=attempt, error=error)
            if attempt < self.max_attempts:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
        self.metrics.notifications.labels(route, "given_up").inc()
        log.error("webhook_given_up", route=route, attempts=self.max_attempts)
