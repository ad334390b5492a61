"""Login, logout and the check in front of every monitoring-center route.

Browsers carry the session in an HttpOnly, SameSite=Strict cookie, which
keeps other sites from riding it; state-changing requests are also refused
when their Origin header names another host. Node ingest, /metrics,
/healthz, /api/v1/stats, the page's static files and the OpenAPI file are
public; everything else under /api/v1 needs a signed-in user.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import structlog
from aiohttp import web

from connectors.center.sessions import SessionStore
from streams.auth.access import Forbidden, Principal
from streams.auth.passwords import DUMMY_HASH, MAX_LENGTH, verify_password
from streams.auth.users import User, UserStore
from streams.metrics import Metrics

log = structlog.get_logger(__name__)

COOKIE = "govpulse_session"
PRINCIPAL = web.RequestKey("principal", Principal)
USER = web.RequestKey("user", User)
TOKEN = web.RequestKey("session_token", str)
_PUBLIC_PREFIXES = ("/api/v1/ingest/", "/static/")
_PUBLIC_PATHS = frozenset({"/", "/metrics", "/healthz", "/api/v1/stats", "/api/v1/session", "/api/v1/openapi.yaml"})
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SessionStoreDown(RuntimeError):
    """Redis, where sessions live, cannot be reached."""


def error(status: int, code: str, detail: str) -> web.Response:
    return web.json_response({"error": code, "detail": detail}, status=status)


def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def user_json(user: User, city_names: dict[str, str], expires_at: str) -> dict[str, object]:
    return {"user": {**user.public(), "city_name": city_names.get(user.city or "")}, "expires_at": expires_at}


def _cross_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None or (origin == "null" and request.method in ("GET", "HEAD")):
        return False
    return urlsplit(origin).netloc != request.host


class Auth:
    def __init__(
        self,
        users: UserStore,
        sessions: SessionStore,
        metrics: Metrics,
        city_names: Callable[[], dict[str, str]],
        *,
        secure_cookie: bool,
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.metrics = metrics
        self.city_names = city_names
        self.secure_cookie = secure_cookie

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await self._guarded(request, handler)
        for name, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    async def _guarded(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and not path.startswith("/api/v1/ingest/")
            and _cross_origin(request)
        ):
            return error(403, "cross_origin", "requests from another origin are refused")
        try:
            user, token = await self._user(request)
        except SessionStoreDown:
            return error(503, "unavailable", "the sign-in store is unavailable; retry shortly")
        if user is not None:
            request[USER], request[PRINCIPAL], request[TOKEN] = user, Principal.of(user), token
        elif not (path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES)):
            return error(401, "unauthorized", "sign in first (POST /api/v1/session)")
        try:
            return await handler(request)
        except Forbidden as exc:
            return error(403, "forbidden", str(exc))

    async def _user(self, request: web.Request) -> tuple[User | None, str]:
        token = request.cookies.get(COOKIE, "")
        if not token:
            return None, ""
        try:
            session = await self.sessions.get(token)
        except Exception as exc:
            log.warning("session_store_unavailable", error=str(exc)[:200])
            raise SessionStoreDown from exc
        if session is None:
            return None, ""
        return self.users.get(session.username), token  # removed or disabled users lose their sessions at once

    # -- routes ----------------------------------------------------------------------
    async def login(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "malformed", 'send JSON {"username": ..., "password": ...}')
        if not isinstance(body, dict):
            return error(400, "malformed", 'send JSON {"username": ..., "password": ...}')
        username, password = body.get("username"), body.get("password")
        if (
            not isinstance(username, str)
            or not isinstance(password, str)
            or not 0 < len(username) <= 64
            or len(password) > MAX_LENGTH
        ):
            return error(400, "malformed", "username and password are strings")
        if await self.sessions.locked_out(username):
            self.metrics.logins.labels("locked").inc()
            return error(429, "too_many_attempts", "too many failed attempts; wait and try again")
        user = self.users.get(username)
        # Hash even for an unknown user, so the answer's timing does not tell which names exist.
        ok = await asyncio.to_thread(verify_password, password, user.password_hash if user else DUMMY_HASH)
        if user is None or not ok:
            await self.sessions.failed(username)
            self.metrics.logins.labels("failed").inc()
            log.info("login_failed", username=username[:64])
            return error(401, "bad_credentials", "wrong username or password")
        await self.sessions.succeeded(username)
        token, session = await self.sessions.create(user.username)
        self.metrics.logins.labels("ok").inc()
        log.info("login", username=user.username, role=user.role)
        response = web.json_response(user_json(user, self.city_names(), session.expires_at.isoformat()))
        response.set_cookie(
            COOKIE,
            token,
            max_age=self.sessions.ttl_s,
            httponly=True,
            samesite="Strict",
            secure=self.secure_cookie,
            path="/",
        )
        return response

    async def me(self, request: web.Request) -> web.Response:
        if USER not in request:
            return error(401, "unauthorized", "not signed in")
        session = await self.sessions.get(request[TOKEN])
        if session is None:
            return error(401, "unauthorized", "not signed in")
        return web.json_response(user_json(request[USER], self.city_names(), session.expires_at.isoformat()))

    async def logout(self, request: web.Request) -> web.Response:
        if TOKEN in request:
            await self.sessions.end(request[TOKEN])
        response = web.Response(status=204)
        response.del_cookie(COOKIE, path="/")
        return response

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/v1/session", self.login)
        app.router.add_get("/api/v1/session", self.me)
        app.router.add_delete("/api/v1/session", self.logout)
