"""The monitoring center's HTTP side: query APIs, sign-in in front of them, the alert board's API, feed and page."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from agents import reporting
from agents.services.base import running, stop_step
from agents.services.clickhouse import ClickHouseStore
from agents.services.redis import RedisClients
from agents.services.rules import RulesEngine
from agents.settings import Settings
from connectors.center import indicators_api, manual_api, page, reports_api, rules_api, scores_api
from connectors.center.alerts_api import AlertCenter
from connectors.center.auth_api import TOKEN, USER, Auth
from connectors.center.desk import AlertDesk
from connectors.center.feed import LiveFeed
from connectors.center.sessions import SessionStore
from streams.alerts.lifecycle import AlertBook
from streams.auth.users import UserStore
from streams.indicators.scorecard import load_scorecard
from streams.metrics import Metrics
from streams.periods import Period
from streams.registry import Registry
from streams.reports.tables import Level, Report


class MonitoringCenter:
    """Mounted on the process's web app by the HTTP server, which stops its live feed before it stops serving."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        book: AlertBook,
        metrics: Metrics,
        clickhouse: ClickHouseStore,
        redis: RedisClients,
        rules: RulesEngine,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.book = book
        self.metrics = metrics
        self.clickhouse = clickhouse
        self.redis = redis
        self.rules = rules
        self._users: UserStore | None = None
        self._center: AlertCenter | None = None

    @property
    def users(self) -> UserStore:
        return running(self._users, "the monitoring center")

    @property
    def center(self) -> AlertCenter:
        return running(self._center, "the monitoring center")

    async def mount(self, web_app: web.Application) -> None:
        s = self.settings
        ch, redis, registry = self.clickhouse.client, self.redis.client, self.registry
        defined = self.rules.indicators
        indicators_api.add_routes(web_app, ch, registry, defined_status=lambda: asdict(defined.status))
        manual_api.add_routes(web_app, ch, registry)
        rules_api.add_routes(web_app, self.rules.reloader)
        # A broken scorecard stops the start, naming the file and the node: better than ranking on a wrong tree.
        scores_api.add_routes(web_app, ch, registry, [load_scorecard(path) for path in s.scorecard_paths])

        async def make_report(period: Period, level: Level, city: int | None) -> Report:
            return await reporting.make_report(s, ch, registry, period, level, city)

        reports_api.add_routes(web_app, make_report, s.data_dir / "reports-made", s.reports_archive)

        self._users = users = UserStore(s.users_path)
        sessions = SessionStore(
            redis, ttl_s=s.login_ttl_s, max_failures=s.login_max_failures, lockout_s=s.login_lockout_s
        )

        def city_names() -> dict[str, str]:
            return {str(c.code): c.name for c in registry.cities()}

        auth = Auth(users, sessions, self.metrics, city_names, secure_cookie=s.cookie_secure)
        web_app.middlewares.append(auth.middleware)
        auth.add_routes(web_app)
        desk = AlertDesk(self.rules.runner, self.book, ch, redis, self.metrics)

        async def session_alive(request: web.Request) -> bool:
            token = request.get(TOKEN, "")
            try:
                found = await sessions.get(token) if token else None
            except Exception:  # noqa: BLE001 - Redis down: keep the open feed; it is checked again once Redis is back
                return True
            return found is not None and users.get(request[USER].username) is not None

        feed_redis = self.redis.feed_client

        def feed(center: AlertCenter) -> LiveFeed:
            return LiveFeed(feed_redis, self.metrics, center.render, center.snapshot, session_alive)

        rules = self.rules
        self._center = AlertCenter(
            registry,
            lambda: rules.rule_infos,
            redis,
            ch,
            desk,
            feed,
            grafana_url=s.grafana_url,
            reload_rules=rules.reload,
        )
        self._center.add_routes(web_app)
        await self._center.feed.start()
        page.add_routes(web_app)

    async def stop(self) -> None:
        if self._center is not None:
            await stop_step("live feed", self._center.feed.stop)
