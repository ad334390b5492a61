"""The ingest gateway: city nodes POST batches of events over HTTP.

A 202 means the batch is in Kafka (acks=all), and with a spool (embedded
mode, connectors/gateway/spool.py) on local disk as well, until its rows are
stored; a broker or spool that cannot take it gets the node a 503, never a
202. Each rejected record gets its reason in the answer and goes to the
dead-letter topic as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pydantic_core
import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from connectors.gateway.node_tokens import NodeTokens
from connectors.gateway.spool import Spool, SpoolUnavailable
from streams.deadletter import DEAD_LETTER_TOPIC, dead_letter
from streams.definitions import STREAMS
from streams.metrics import Metrics
from streams.validation import Validator
from streams.vetted import BatchSeal, encode_vetted

log = structlog.get_logger(__name__)

#: (topic, key, value, headers) -> awaits the broker's ack, and gives where it put the message (partition, offset);
#: (topic, [(key, value)]) for many.
SendOne = Callable[[str, bytes, bytes, list[tuple[str, bytes]]], Awaitable[tuple[int, int]]]
SendMany = Callable[[str, list[tuple[bytes, bytes]]], Awaitable[None]]

METRICS_KEY = web.AppKey("metrics", Metrics)
_BATCH_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-")


def _error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status)


class Gateway:
    def __init__(
        self,
        validator: Validator,
        tokens: NodeTokens,
        send_one: SendOne,
        send_many: SendMany,
        metrics: Metrics,
        *,
        seal: BatchSeal,
        max_batch_events: int,
        max_body_bytes: int,
        spool: Spool | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.validator = validator
        self.tokens = tokens
        self.send_one = send_one
        self.send_many = send_many
        self.metrics = metrics
        self.seal = seal
        self.max_batch_events = max_batch_events
        self.max_body_bytes = max_body_bytes
        self.spool = spool
        self.clock = clock

    async def ingest(self, request: web.Request) -> web.Response:
        stream = request.match_info["stream"]
        response = await self._ingest(request, stream)
        self.metrics.gateway_requests.labels(stream if stream in STREAMS else "unknown", str(response.status)).inc()
        return response

    async def _ingest(self, request: web.Request, stream: str) -> web.Response:
        spec = STREAMS.get(stream)
        if spec is None:
            return _error(404, "unknown_stream", f"streams are {', '.join(STREAMS)}")
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token_source = self.tokens.source_for(token)
        if token_source is None:
            return _error(401, "unauthorized", "a valid node token is required (Authorization: Bearer <token>)")
        if request.content_length is not None and request.content_length > self.max_body_bytes:
            return _error(413, "body_too_large", f"body exceeds {self.max_body_bytes} bytes")
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, "body_too_large", f"body exceeds {self.max_body_bytes} bytes")
        try:
            body = pydantic_core.from_json(raw, allow_inf_nan=False)
        except ValueError as exc:
            return _error(400, "malformed", f"body is not JSON: {exc}"[:300])
        if not isinstance(body, dict) or not isinstance(body.get("events"), list):
            return _error(400, "malformed", 'body must be an object {"source": ..., "batch_id": ..., "events": [...]}')
        source = body.get("source", token_source)
        if source != token_source:
            return _error(403, "scope_violation", f"this token may send only as {token_source}")
        events: list[Any] = body["events"]
        if len(events) > self.max_batch_events:
            return _error(413, "batch_too_large", f"at most {self.max_batch_events} events per batch")
        batch_id = body.get("batch_id") or uuid.uuid4().hex
        if not isinstance(batch_id, str) or not 0 < len(batch_id) <= 64 or not set(batch_id) <= _BATCH_ID_OK:
            return _error(400, "malformed", "batch_id must be 1-64 characters of [A-Za-z0-9._:-]")

        now = self.clock()
        accepted, rejected = self.validator.validate(spec, source, events, now)
        city = self.validator.registry.city_of_source(source)
        key = str(city or 0).encode()
        spooled: int | None = None
        try:
            if accepted:
                value = encode_vetted(
                    stream=stream, source=source, batch_id=batch_id, received_at=now, accepted=accepted
                )
                headers = self.seal.headers(value)
                if self.spool is not None:
                    spooled = await self.spool.put(spec.topic, key, value, headers)
                partition, offset = await self.send_one(spec.topic, key, value, headers)
                if self.spool is not None and spooled is not None:
                    await self.spool.placed(spooled, partition, offset)
            if rejected:
                origin = f"gw:{batch_id}"
                await self.send_many(
                    DEAD_LETTER_TOPIC, [dead_letter(r, origin, stream, source, city, now) for r in rejected]
                )
        except SpoolUnavailable as exc:
            log.warning("gateway_spool_unavailable", stream=stream, source=source, reason=exc.code)
            return _error(503, exc.code, exc.detail[:300])
        except Exception as exc:  # noqa: BLE001 - any broker failure means "not stored"
            log.warning("gateway_broker_unavailable", stream=stream, source=source, error=str(exc)[:300])
            await self._unspool(spooled)
            return _error(503, "broker_unavailable", "the batch could not be stored; retry later")
        self.metrics.gateway_events.labels(stream, "accepted").inc(len(accepted))
        self.metrics.gateway_events.labels(stream, "rejected").inc(len(rejected))
        for rej in rejected:
            self.metrics.events_rejected.labels(rej.reason).inc()
        answer = {
            "batch_id": batch_id,
            "accepted": len(accepted),
            "rejected": [
                {"index": r.index, "event_id": r.event_id, "reason": r.reason, "detail": r.detail} for r in rejected
            ],
        }
        return web.json_response(answer, status=202 if accepted or not events else 400)

    async def _unspool(self, spooled: int | None) -> None:
        """A batch answered 503 leaves the spool: the node sends it again, so keeping it would only send it twice."""
        if self.spool is None or spooled is None:
            return
        try:
            await self.spool.drop(spooled)
        except Exception as exc:  # noqa: BLE001 - kept, it is sent again at start and counted once
            log.warning("gateway_spool_drop_failed", error=str(exc)[:300])


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_web_app(
    gateway: Gateway | None,
    metrics: Metrics,
    *,
    health: Callable[[], dict[str, Any]],
    stats: Callable[[], Awaitable[dict[str, Any]]] | None,
    max_body_bytes: int,
) -> web.Application:
    """/metrics and /healthz always; ingest when this process is a gateway, row counts when it has ClickHouse."""
    app = web.Application(client_max_size=max_body_bytes)
    app[METRICS_KEY] = metrics

    async def healthz(_: web.Request) -> web.Response:
        status = health()
        return web.json_response(status, status=200 if status.get("ok") else 503)

    if gateway is not None:
        app.router.add_post("/api/v1/ingest/{stream}", gateway.ingest)
    if stats is not None:

        async def stats_handler(_: web.Request) -> web.Response:
            return web.json_response(await stats())

        app.router.add_get("/api/v1/stats", stats_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    return app
