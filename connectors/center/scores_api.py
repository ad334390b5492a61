"""HTTP API over the composite scores: rank cities or departments for a day or a period, describe the trees.

GET /api/v1/scores?level=city&day=2026-11-20
GET /api/v1/scores?level=city&from=2026-11-01&to=2026-11-30
GET /api/v1/scores?level=dept&city=440700&day=2026-11-20&scorecard=<name>
GET /api/v1/scorecards

Days are local days in Asia/Shanghai; without day or from/to the answer is
for yesterday, the last complete day.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from aiohttp import web

from connectors.center.auth_api import principal
from streams.auth.access import Forbidden
from streams.indicators.query import QueryError
from streams.indicators.scorecard import Scorecard
from streams.indicators.scoring import ScoringError, parse_period, rank
from streams.indicators.service import Reader
from streams.registry import Registry
from streams.workdays import SHANGHAI


def _pick(scorecards: Sequence[Scorecard], name: str | None, level: str) -> Scorecard:
    if name:
        for card in scorecards:
            if card.name == name:
                return card
        raise ScoringError(f"unknown scorecard {name!r}; GET /api/v1/scorecards lists them")
    for card in scorecards:
        if level in card.levels:
            return card
    # The first one answers, so the error says which levels it does rank.
    return scorecards[0]


def _city(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit():
        raise ScoringError(f"city={text!r}: give a GB/T 2260 code such as 440700")
    return int(text)


def add_routes(
    app: web.Application,
    reader: Reader,
    registry: Registry,
    scorecard: Scorecard | Sequence[Scorecard],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """Mount the score routes; with several scorecards, `?scorecard=` picks one, else the first that ranks the level."""
    scorecards = [scorecard] if isinstance(scorecard, Scorecard) else list(scorecard)
    if not scorecards:
        raise ValueError("add_routes needs at least one scorecard")

    async def list_scorecards(_: web.Request) -> web.Response:
        return web.json_response({"scorecards": [card.describe() for card in scorecards]})

    async def get_scores(request: web.Request) -> web.Response:
        params = request.query
        try:
            now = clock()
            period = parse_period(
                params.get("day"), params.get("from"), params.get("to"), now.astimezone(SHANGHAI).date()
            )
            level = params.get("level", "city")
            city = _city(params.get("city"))
            if not principal(request).sees_city(str(city) if city is not None and level == "dept" else None):
                raise Forbidden("a city user sees the department scores of their own city (level=dept&city=<code>)")
            card = _pick(scorecards, params.get("scorecard"), level)
            ranking = await rank(reader, registry, card, level, period, now, city=city)
        except (ScoringError, QueryError) as exc:
            return web.json_response({"error": "bad_query", "detail": str(exc)}, status=400)
        return web.json_response(ranking.to_json())

    app.router.add_get("/api/v1/scorecards", list_scorecards)
    app.router.add_get("/api/v1/scores", get_scores)
