"""The video gateway on the embedded stack: its probes and node heartbeats reach ClickHouse and drive the video alerts.

Cameras are live MJPEG streams served by the test (a hall, a capped lens)
and a closed port; the gateway probes them in its worker processes and
publishes through the city-node SDK to the stack's broker, as in production.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from connectors.alert_outputs import ACTIVE_KEY
from streams.alerts.model import fingerprint
from tests.integration.helpers import eventually
from tests.integration.video_servers import MjpegServer, closed_port
from video_gateway.cli import VERSION
from video_gateway.config import ProbeConfig
from video_gateway.probe import CameraTarget
from video_gateway.publisher import VideoPublisher, node_sources, sdk_sender_factory
from video_gateway.runner import ProbeRunner
from video_gateway.scheduler import Scheduler

pytestmark = pytest.mark.integration


async def _active(stack, fp: str) -> dict | None:
    raw = await stack.redis.hget(ACTIVE_KEY, fp)
    return json.loads(raw) if raw else None


async def test_probes_and_beats_reach_clickhouse_and_drive_node_offline(stack, claim_city) -> None:
    city = claim_city()
    rules = stack.settings.rules_path / "video.yaml"
    shipped = rules.read_text(encoding="utf-8")
    # Ops' way to re-arm at once: the shipped 15-minute cooldown would hold back a second episode of this node.
    rules.write_text(
        shipped.replace("  - id: node_offline\n", "  - id: node_offline\n    cooldown: 0s\n"), encoding="utf-8"
    )
    assert (await stack.reload_rules())["last_error"] == []
    try:
        await _run(stack, city)
    finally:
        rules.write_text(shipped, encoding="utf-8")
        await stack.reload_rules()


async def _run(stack, city: int) -> None:
    node = next(n.node_id for n in stack.registry.nodes() if n.city_code == city)
    cameras = stack.registry.cameras_of_node(node)[:3]
    fp = fingerprint("node_offline", {"city": str(city), "node": node})
    started = datetime.now(UTC)
    with MjpegServer() as server:
        targets = [
            CameraTarget(cameras[0].camera_id, node, server.url("hall")),
            CameraTarget(cameras[1].camera_id, node, server.url("black")),
            CameraTarget(cameras[2].camera_id, node, f"http://127.0.0.1:{closed_port()}/live.mjpg"),
        ]
        config = ProbeConfig(concurrency=3, heartbeat_interval_s=1, open_timeout_s=5, read_timeout_s=3)
        publisher = VideoPublisher(node_sources(stack.registry), sdk_sender_factory(stack.bootstrap))
        try:
            async with ProbeRunner(config) as runner:
                scheduler = Scheduler(targets, runner, on_result=publisher.add_result)
                results = await scheduler.probe_once()
                assert {r.camera_id: r.status for r in results} == {
                    cameras[0].camera_id: "ok",
                    cameras[1].camera_id: "black",
                    cameras[2].camera_id: "offline",
                }
                beating = asyncio.create_task(_beat(publisher, scheduler))
                try:
                    # Heard: the node is not offline (an episode from before the beats resolves).
                    await eventually(lambda: _not_firing(stack, fp), timeout_s=20)
                    await asyncio.sleep(3)
                finally:
                    beating.cancel()
                    await asyncio.gather(beating, return_exceptions=True)
        finally:
            await asyncio.to_thread(publisher.close)

    async def stored() -> bool:
        probes = await stack.ch.query(
            "SELECT camera_id, status, reason != '' FROM camera_probes "
            "WHERE node_id = {n:String} AND occurred_at >= {t:DateTime64(3, 'UTC')}",
            {"n": node, "t": started},
        )
        beats = await stack.ch.query(
            "SELECT cameras_total, cameras_online, interval_s FROM node_heartbeats WHERE node_id = {n:String} "
            "AND occurred_at >= {t:DateTime64(3, 'UTC')}",
            {"n": node, "t": started},
        )
        return len(probes) == 3 and len(beats) >= 3 and (sorted(probes), set(beats))

    probes, beats = await eventually(stored, timeout_s=30)
    assert {status for _, status, _ in probes} == {"ok", "black", "offline"}
    assert all(said for _, status, said in probes if status != "ok")  # why, in words, for ops
    assert beats == {(3, 2, 1)}  # the capped camera streams (online), the closed port does not

    # The beats stop: after 3 of the node's own 1-second intervals and a rule round, the node is offline.
    alert = await eventually(lambda: _firing(stack, fp), timeout_s=30)
    assert alert["evidence"]["message"].startswith(f"视频节点 {node} 已 ")
    # The capped camera's state is counting toward camera_black_or_frozen (90 minutes: pending, not firing).
    black = stack.book.get(fingerprint("camera_black_or_frozen", {"city": str(city), "camera": cameras[1].camera_id}))
    assert black is not None and black.state == "pending"


async def _beat(publisher: VideoPublisher, scheduler: Scheduler) -> None:
    """The node beats every second, as its interval_s says, until cancelled."""
    while True:
        publisher.add_heartbeats(scheduler.heartbeats(VERSION))
        await asyncio.to_thread(publisher.flush)
        await asyncio.sleep(1)


async def _not_firing(stack, fp: str) -> bool:
    return (await _active(stack, fp) or {}).get("state") != "firing"


async def _firing(stack, fp: str) -> dict | None:
    alert = await _active(stack, fp)
    return alert if alert and alert["state"] == "firing" else None
