"""Webhook notifications against real HTTP receivers on loopback: retried, then given up, never blocking."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import CollectorRegistry

from connectors.embedded import free_port
from connectors.notifiers import WebhookNotifier
from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation
from streams.metrics import Metrics
from tests.integration.helpers import eventually


def _firing() -> list:
    book = AlertBook()
    book.register_rule("r1", severity="critical")
    return book.observe(Observation("r1", {"city": "440100"}, datetime.now(UTC), True, False, 1.0))


async def test_a_flaky_receiver_gets_the_notice_after_retries_and_a_dead_one_is_given_up() -> None:
    """The receiver failing twice gets the notice on the third try; a closed port is tried 3 times and given up."""
    calls: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        calls.append(json.loads(await request.read()))
        return web.Response(status=500 if len(calls) <= 2 else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    metrics = Metrics(CollectorRegistry())
    notifier = WebhookNotifier(
        {"duty": f"http://127.0.0.1:{port}/hook", "dead": f"http://127.0.0.1:{free_port()}/x"},
        metrics,
        allowed_hosts=["127.0.0.1"],
        max_attempts=3,
        backoff_s=0.05,
    )
    await notifier.start()
    try:
        started = asyncio.get_running_loop().time()
        notifier.submit(_firing(), {"r1": ["webhook:duty", "webhook:dead"]})
        assert asyncio.get_running_loop().time() - started < 0.05  # submit only queues

        def sample(route: str, outcome: str) -> float:
            return (
                metrics.registry.get_sample_value("govpulse_notifications_total", {"route": route, "outcome": outcome})
                or 0
            )

        async def settled() -> bool:
            return sample("webhook:duty", "sent") == 1 and sample("webhook:dead", "given_up") == 1

        await eventually(settled, timeout_s=20)
        assert len(calls) == 3 and calls[-1]["kind"] == "firing" and calls[-1]["alert"]["rule_id"] == "r1"
        assert sample("webhook:duty", "retried") == 2 and sample("webhook:dead", "retried") == 3
    finally:
        await notifier.stop()
        await runner.cleanup()
