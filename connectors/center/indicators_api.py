"""HTTP API over the rolling indicators: list them, and query one by scope, window and range."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from connectors.center.auth_api import principal
from streams.auth.access import Forbidden
from streams.indicators.catalog import INDICATORS
from streams.indicators.query import IndicatorQuery, QueryError, Scope
from streams.indicators.service import Reader, run
from streams.registry import Registry


def _time(request: web.Request, key: str) -> datetime | None:
    text = request.query.get(key)
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(f"{key}={text!r} is not an ISO 8601 time") from None


def scope_city(scope: Scope, registry: Registry) -> str | None:
    """The city a scope lies in, or None for the province (and for entities the registry does not know)."""
    kind, value = scope.kind, scope.value
    code: int | None = None
    if kind == "city":
        code = int(value)
    elif kind == "county":
        county = registry.county(int(value))
        code = county.city_code if county else None
    elif kind == "hall":
        hall = registry.hall(value)
        code = hall.city_code if hall else None
    elif kind == "dept":
        dept = registry.department(value)
        code = dept.city_code if dept else None
    elif kind == "line":
        # A provincial department's line spans every city: it belongs to the province.
        code = None
    elif kind == "source":
        code = registry.city_of_source(value)
    return None if code is None else str(code)


def add_routes(
    app: web.Application,
    reader: Reader,
    registry: Registry,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    defined_status: Callable[[], dict[str, Any]] | None = None,
) -> None:
    async def list_indicators(_: web.Request) -> web.Response:
        """Every indicator, built-in and defined; with the defined files' status (why a change was refused)."""
        body: dict[str, Any] = {"indicators": [i.describe() for i in INDICATORS.values()]}
        if defined_status is not None:
            body["defined"] = defined_status()
        return web.json_response(body)

    async def get_indicator(request: web.Request) -> web.Response:
        try:
            q = IndicatorQuery.build(
                request.query.get("scope", "province"),
                request.query.get("window", "1h"),
                _time(request, "from"),
                _time(request, "to"),
                clock(),
                request.query.get("group") or None,
            )
            if not principal(request).sees_city(scope_city(q.scope, registry)):
                raise Forbidden(
                    "a city user reads indicators of their own city (city, county, hall, dept or source scope)"
                )
            return web.json_response(await run(reader, request.match_info["name"], q))
        except QueryError as exc:
            status = 404 if str(exc).startswith("unknown indicator") else 400
            return web.json_response({"error": "bad_query", "detail": str(exc)}, status=status)

    app.router.add_get("/api/v1/indicators", list_indicators)
    app.router.add_get("/api/v1/indicators/{name}", get_indicator)
