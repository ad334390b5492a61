"""The live feed: alert notices and silence changes pushed to every open board over Server-Sent Events.

One Redis subscription per process fans out to all connected browsers, each
getting only what their scope lets them see. A browser that connects (or
reconnects) first gets a snapshot, so nothing between its last event and
now is missed; when the subscription itself was lost, every browser is told
to take a fresh snapshot. A browser that cannot keep up is disconnected
rather than buffered without bound; its EventSource reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
import structlog
from aiohttp import web

from connectors.alert_outputs import CHANNEL, SILENCE_CHANNEL
from connectors.alert_outputs import RESYNC as ALERTS_RESYNC
from streams.auth.access import Principal
from streams.metrics import Metrics

log = structlog.get_logger(__name__)

QUEUE_LIMIT = 1000
#: Open feeds per process: a wall of screens in every city is a few hundred; beyond this, refuse rather than run out.
MAX_VIEWERS = 2000
KEEPALIVE_S = 15.0
RESYNC = ("resync", None)
#: A snapshot right after Redis came back can meet a dead pooled connection; a few tries ride that out.
SNAPSHOT_ATTEMPTS = 3
SNAPSHOT_RETRY_S = 1.0

#: (event name, payload, who may see it) for one feed message.
Rendered = tuple[str, dict[str, Any], Callable[[Principal], bool]]
Render = Callable[[str, dict[str, Any]], Rendered | None]
Snapshot = Callable[[Principal], Awaitable[dict[str, Any]]]
SessionAlive = Callable[[web.Request], Awaitable[bool]]


class _Viewer:
    def __init__(self, who: Principal) -> None:
        self.who = who
        self.queue: asyncio.Queue[tuple[str, dict[str, Any] | None]] = asyncio.Queue(QUEUE_LIMIT)
        self.overflowed = False

    def put(self, item: tuple[str, dict[str, Any] | None]) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True


class LiveFeed:
    def __init__(
        self, redis: aioredis.Redis, metrics: Metrics, render: Render, snapshot: Snapshot, session_alive: SessionAlive
    ) -> None:
        self.redis = redis
        self.metrics = metrics
        self.render = render
        self.snapshot = snapshot
        self.session_alive = session_alive
        self._viewers: set[_Viewer] = set()
        self._task: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="live-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for viewer in list(self._viewers):
            viewer.put(("close", None))

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL, SILENCE_CHANNEL)
                if self.subscribed.is_set():  # a lost subscription may have missed messages
                    self._fan_out_raw(RESYNC)
                self.subscribed.set()
                delay = 0.5
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._dispatch(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis went away: retry, then tell viewers to resync
                log.warning("live_feed_lost", error=str(exc)[:200])
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, channel: bytes | str, data: bytes | str) -> None:
        channel = channel.decode() if isinstance(channel, bytes) else channel
        try:
            payload = json.loads(data)
        except ValueError:
            return
        if payload == ALERTS_RESYNC:
            self._fan_out_raw(RESYNC)
            return
        kind = "silence" if channel == SILENCE_CHANNEL else "alert"
        try:
            rendered = self.render(kind, payload)
        except Exception as exc:  # noqa: BLE001 - one odd message must not end the feed
            log.warning("live_feed_render_failed", error=repr(exc)[:200])
            return
        if rendered is None:
            return
        event, body, visible = rendered
        for viewer in list(self._viewers):
            if visible(viewer.who):
                viewer.put((event, body))

    def _fan_out_raw(self, item: tuple[str, dict[str, Any] | None]) -> None:
        for viewer in list(self._viewers):
            viewer.put(item)

    async def handle(self, request: web.Request, who: Principal) -> web.StreamResponse:
        if len(self._viewers) >= MAX_VIEWERS:
            return web.json_response(
                {"error": "too_many_viewers", "detail": "the live feed is full; retry later"}, status=503
            )
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
            }
        )
        await response.prepare(request)
        viewer = _Viewer(who)
        self._viewers.add(viewer)  # before the snapshot, so nothing falls between the two
        self.metrics.live_viewers.inc()
        try:
            await self._send_snapshot(response, who)
            while not viewer.overflowed:
                try:
                    event, payload = await asyncio.wait_for(viewer.queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if not await self.session_alive(request):
                        await _send(response, "session_expired", {})
                        break
                    await response.write(b": keepalive\n\n")
                    continue
                if event == "close":
                    break
                if event == "resync":
                    await self._send_snapshot(response, who)
                else:
                    await _send(response, event, payload or {})
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._viewers.discard(viewer)
            self.metrics.live_viewers.dec()
        return response

    async def _send_snapshot(self, response: web.StreamResponse, who: Principal) -> None:
        for attempt in range(SNAPSHOT_ATTEMPTS):
            try:
                snapshot = await self.snapshot(who)
            except Exception as exc:  # noqa: BLE001 - Redis or ClickHouse away: keep the stream; a resync follows recovery
                log.warning("live_feed_snapshot_failed", error=str(exc)[:200], attempt=attempt + 1)
                await asyncio.sleep(SNAPSHOT_RETRY_S)
                continue
            await _send(response, "snapshot", snapshot)
            return


async def _send(response: web.StreamResponse, event: str, payload: dict[str, Any]) -> None:
    data = json.dumps(payload, ensure_ascii=False, default=str)
    await response.write(f"event: {event}\ndata: {data}\n\n".encode())
