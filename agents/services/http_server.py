"""One HTTP server per process: ingest (gateway), the monitoring center and its APIs (center), /metrics and /healthz."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from agents.renewal import inherited_listener
from agents.services.base import running, stop_step
from agents.services.center import MonitoringCenter
from agents.settings import Settings
from connectors.gateway.service import Gateway, build_web_app
from streams.metrics import Metrics


class HttpServer:
    name = "http"

    def __init__(
        self,
        settings: Settings,
        metrics: Metrics,
        *,
        gateway: Callable[[], Gateway] | None,
        center: MonitoringCenter | None,
        health: Callable[[], dict[str, Any]],
        stats: Callable[[], Awaitable[dict[str, Any]]] | None,
    ) -> None:
        """`gateway` builds the gateway as the server starts (it reads the node tokens then); None: no ingest here."""
        self.settings = settings
        self.metrics = metrics
        self.gateway = gateway
        self.center = center
        self.health = health
        self.stats = stats
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        #: A second descriptor of the listening socket, open past the server's stop: what a renewal hands over.
        self.handoff_fd: int | None = None

    @property
    def runner(self) -> web.AppRunner:
        return running(self._runner, "the HTTP server")

    @property
    def port(self) -> int:
        """The port it listens on (the one the kernel picked when GOVPULSE_HTTP_PORT is 0)."""
        return running(self._port, "the HTTP server")

    async def start(self) -> None:
        s = self.settings
        web_app = build_web_app(
            self.gateway() if self.gateway is not None else None,
            self.metrics,
            health=self.health,
            stats=self.stats,
            max_body_bytes=s.max_body_bytes,
        )
        if self.center is not None:
            await self.center.mount(web_app)
        self._runner = web.AppRunner(web_app, access_log=None)
        await self._runner.setup()
        sock = inherited_listener() or socket.create_server((s.http_host, s.http_port), backlog=1024)
        self.handoff_fd = os.dup(sock.fileno())
        site = web.SockSite(self._runner, sock)
        await site.start()
        self._port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self.center is not None:
            await self.center.stop()
        if self._runner is not None:
            await stop_step("gateway", self._runner.cleanup)
