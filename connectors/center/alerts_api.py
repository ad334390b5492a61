"""The monitoring center's REST API: alerts, one alert's drill-down, actions, silences, overview and the live feed.

Every handler works within the caller's scope (streams/auth/access.py): a
city operator's list, counts, drill-downs and feed hold their own city only,
and an alert of another city answers 404 as if it did not exist.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from connectors.alert_outputs import ACTIVE_KEY
from connectors.center import alert_view
from connectors.center.auth_api import error, principal
from connectors.center.desk import AlertDesk, silences_json
from connectors.center.feed import LiveFeed, Rendered
from connectors.center.history import history, recently_resolved
from connectors.clickhouse.client import ClickHouse
from streams.alerts.actions import BadRequest, Conflict, NotFound, parse_matchers
from streams.alerts.model import Alert
from streams.auth.access import Principal, alert_city
from streams.indicators.catalog import INDICATORS
from streams.indicators.query import IndicatorQuery, QueryError
from streams.indicators.service import run as run_indicator
from streams.registry import Registry

RESOLVED_WINDOW = timedelta(hours=1)
TREND_SPAN = timedelta(hours=6)
_FP_CHARS = frozenset("0123456789abcdef")


def _multi(request: web.Request, key: str, allowed: tuple[str, ...]) -> list[str]:
    values = [v for raw in request.query.getall(key, []) for v in raw.split(",") if v]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise BadRequest(f"{key}={unknown[0]!r}: use {', '.join(allowed)}")
    return values


def _fingerprint(request: web.Request) -> str:
    fp = request.match_info["fingerprint"]
    if not 0 < len(fp) <= 64 or not set(fp) <= _FP_CHARS:
        raise NotFound("no such alert")
    return fp


class AlertCenter:
    def __init__(
        self,
        registry: Registry,
        rules: Callable[[], Mapping[str, alert_view.RuleInfo]],
        redis: aioredis.Redis,
        ch: ClickHouse,
        desk: AlertDesk,
        feed_factory: Callable[[AlertCenter], LiveFeed],
        *,
        grafana_url: str,
        reload_rules: Callable[[], Any],
    ) -> None:
        self.registry = registry
        self.rules = rules
        self.redis = redis
        self.ch = ch
        self.desk = desk
        self.grafana_url = grafana_url
        self.reload_rules = reload_rules
        self.feed = feed_factory(self)

    # -- reading ---------------------------------------------------------------------
    async def active(self) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(ACTIVE_KEY)
        alerts = [json.loads(v) for v in raw.values()]
        return [a for a in alerts if a.get("state") == "firing"]  # pending is not an alert yet

    async def board(self, who: Principal) -> list[dict[str, Any]]:
        """Firing alerts and those resolved within the last hour, as views, in the caller's scope, sorted."""
        active = await self.active()
        live = {a["fingerprint"] for a in active}
        resolved = await recently_resolved(self.ch, RESOLVED_WINDOW, datetime.now(UTC))
        rules = self.rules()
        views = [
            alert_view.view(a, rules, self.registry)
            for a in [*active, *(r for r in resolved if r["fingerprint"] not in live)]
        ]
        return sorted((v for v in views if who.sees_city(v["city"] or None)), key=alert_view.sort_key)

    async def snapshot(self, who: Principal) -> dict[str, Any]:
        return {
            "alerts": await self.board(who),
            "silences": silences_json(self.desk.silences(who)),
            "at": datetime.now(UTC).isoformat(),
        }

    def render(self, kind: str, payload: dict[str, Any]) -> Rendered | None:
        """A feed message as an SSE event and who may see it; None when nobody should (a pending alert).

        Rendered once per message, whatever the number of open boards; only the scope check runs per viewer.
        """
        if kind == "silence":
            matchers = parse_matchers(payload["silence"]["matchers"])
            return "silence", payload, lambda who: who.owns_silence(matchers)
        alert = payload["alert"]
        if alert.get("state") == "pending":
            return None
        city = alert_city(alert)
        data = {
            "kind": payload["kind"],
            "at": payload["at"],
            "alert": alert_view.view(alert, self.rules(), self.registry),
        }
        return "alert", data, lambda who: who.sees_city(city)

    async def _visible(self, who: Principal, fingerprint: str) -> dict[str, Any]:
        raw = await self.redis.hget(ACTIVE_KEY, fingerprint)
        alert = json.loads(raw) if raw else None
        if alert is None:
            alert = self.desk.book.get(fingerprint)
            alert = alert.to_dict() if alert is not None else None
        if alert is None:
            found = await recently_resolved(self.ch, timedelta(days=7), datetime.now(UTC), 1, fingerprint)
            alert = found[0] if found else None
        if alert is None or not who.sees_city(alert_city(alert)):
            raise NotFound("no such alert")  # another city's alert is not even confirmed to exist
        return alert

    # -- handlers --------------------------------------------------------------------
    async def list_alerts(self, request: web.Request) -> web.Response:
        who = principal(request)
        city = request.query.get("city") or None
        if city is not None and (not city.isdigit() or len(city) != 6):
            raise BadRequest("city is a 6-digit GB/T 2260 code")
        filters = {
            "severity": _multi(request, "severity", alert_view.SEVERITIES),
            "domain": _multi(request, "domain", alert_view.DOMAINS),
            "state": _multi(request, "state", alert_view.BOARD_STATES),
        }
        views = [v for v in await self.board(who) if alert_view.matches(v, city=city, **filters)]
        return web.json_response({"alerts": views, "at": datetime.now(UTC).isoformat()})

    async def get_alert(self, request: web.Request) -> web.Response:
        who = principal(request)
        alert = await self._visible(who, _fingerprint(request))
        rules = self.rules()
        v = alert_view.view(alert, rules, self.registry)
        rule = rules.get(alert["rule_id"])
        return web.json_response(
            {
                "alert": v,
                "rule": alert_view.rule_json(rule),
                "history": await history(self.ch, alert["fingerprint"]),
                "grafana_url": alert_view.grafana_link(self.grafana_url, alert, v["domain"]),
            }
        )

    async def trend(self, request: web.Request) -> web.Response:
        who = principal(request)
        alert = await self._visible(who, _fingerprint(request))
        rule = self.rules().get(alert["rule_id"])
        target = alert_view.trend_target(alert, rule)
        if target is None:
            return error(404, "no_trend", "this alert's rule has no indicator to chart")
        name, scope = target
        fired = alert.get("fired_at") or alert.get("started_at")
        end = datetime.now(UTC)
        if alert.get("resolved_at"):
            end = min(end, datetime.fromisoformat(alert["resolved_at"]) + timedelta(hours=1))
        indicator = INDICATORS[name]
        window = next(w for w in ("5m", "1h", "1d") if w in indicator.windows)
        span = TREND_SPAN if window == "5m" else TREND_SPAN * 8
        try:
            q = IndicatorQuery.build(scope, window, end - span, end, datetime.now(UTC))
            result = await run_indicator(self.ch, name, q)
        except QueryError as exc:
            return error(404, "no_trend", str(exc))
        by_bucket: dict[str, float | None] = {}
        for p in result["points"]:  # series per reason or status (grouped indicators) add up per bucket
            prev, value = by_bucket.get(p["bucket"]), p["value"]
            by_bucket[p["bucket"]] = value if prev is None else prev + (value or 0.0)
        return web.json_response(
            {
                "indicator": name,
                "label": indicator.title_zh,
                "unit": indicator.unit,
                "scope": scope,
                "window": window,
                "points": [{"t": t, "value": v} for t, v in sorted(by_bucket.items())],
                "threshold": rule.threshold if rule and rule.indicator == name else None,
                "fired_at": fired,
            }
        )

    async def acknowledge(self, request: web.Request) -> web.Response:
        who = principal(request)
        body = await _json_body(request)
        fp = _fingerprint(request)
        await self._visible(who, fp)
        acked: Alert = await self.desk.acknowledge(who, fp, body.get("comment"))
        return web.json_response({"alert": alert_view.view(acked.to_dict(), self.rules(), self.registry)})

    async def list_silences(self, request: web.Request) -> web.Response:
        return web.json_response({"silences": silences_json(self.desk.silences(principal(request)))})

    async def create_silence(self, request: web.Request) -> web.Response:
        silence = await self.desk.silence(principal(request), await _json_body(request))
        return web.json_response({"silence": silence.to_dict()}, status=201)

    async def delete_silence(self, request: web.Request) -> web.Response:
        silence_id = request.match_info["silence_id"]
        if len(silence_id) > 64:
            raise NotFound("no such silence")
        await self.desk.unsilence(principal(request), silence_id)
        return web.Response(status=204)

    async def overview(self, request: web.Request) -> web.Response:
        who = principal(request)
        views = [v for v in await self.board(who) if v["state"] != "resolved"]
        cities = []
        for city in sorted(self.registry.cities(), key=lambda c: c.code):
            code = str(city.code)
            if not who.sees_city(code):
                continue
            counts = {
                s: sum(1 for v in views if v["city"] == code and v["severity"] == s) for s in alert_view.SEVERITIES
            }
            cities.append(
                {
                    "code": code,
                    "name": city.name,
                    "name_en": city.name_en,
                    "counts": counts,
                    "total": sum(counts.values()),
                }
            )
        body: dict[str, Any] = {"cities": cities, "at": datetime.now(UTC).isoformat()}
        if who.province_wide:
            province = [v for v in views if not v["city"]]
            body["province"] = {s: sum(1 for v in province if v["severity"] == s) for s in alert_view.SEVERITIES}
        return web.json_response(body)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        return await self.feed.handle(request, principal(request))

    async def reload(self, request: web.Request) -> web.Response:
        who = principal(request)
        who.require_province_operator()
        status = await self.reload_rules()
        await self.desk.record(
            who, "rules_reload", {"rules": status.get("rules"), "error": status.get("last_error", [])[:5]}
        )
        return web.json_response(status, status=200 if not status.get("last_error") else 422)

    def add_routes(self, app: web.Application) -> None:
        @web.middleware
        async def answers(request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
            try:
                return await handler(request)
            except NotFound as exc:
                return error(404, "not_found", str(exc))
            except Conflict as exc:
                return error(409, "conflict", str(exc))
            except BadRequest as exc:
                return error(400, "bad_request", str(exc))

        app.middlewares.append(answers)
        app.router.add_get("/api/v1/alerts", self.list_alerts)
        app.router.add_get("/api/v1/alerts/stream", self.stream)
        app.router.add_get("/api/v1/alerts/{fingerprint}", self.get_alert)
        app.router.add_get("/api/v1/alerts/{fingerprint}/trend", self.trend)
        app.router.add_post("/api/v1/alerts/{fingerprint}/ack", self.acknowledge)
        app.router.add_get("/api/v1/silences", self.list_silences)
        app.router.add_post("/api/v1/silences", self.create_silence)
        app.router.add_delete("/api/v1/silences/{silence_id}", self.delete_silence)
        app.router.add_get("/api/v1/overview", self.overview)
        app.router.add_post("/api/v1/rules/reload", self.reload)


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > 64 * 1024:
        raise BadRequest("body too large")
    raw = await request.read()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise BadRequest("body is not JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body is a JSON object")
    return body
