"""Read-only API over the rule files' status (the alert list comes with the monitoring center's access control)."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from streams.rules.reloader import RuleReloader


def add_routes(app: web.Application, reloader: RuleReloader) -> None:
    async def rules(_: web.Request) -> web.Response:
        """How many rules are loaded, from where, and why the last change was refused, if it was."""
        return web.json_response(asdict(reloader.status))

    app.router.add_get("/api/v1/rules", rules)
