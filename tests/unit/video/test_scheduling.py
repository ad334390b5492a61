"""Probe planning, the deadline guard, node heartbeats and publishing, with fakes and a manual clock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from streams.definitions import STREAMS
from streams.models.wire import decode_batch, encode_batch_parts
from streams.registry.generate import generate
from tests.unit.video import fakes
from tests.unit.video.polling import until
from video_gateway.config import ProbeConfig
from video_gateway.probe import CameraTarget
from video_gateway.publisher import VideoPublisher, node_sources
from video_gateway.runner import ProbeRunner
from video_gateway.scheduler import ProbePlan, Scheduler, node_heartbeats
from video_gateway.targets import CameraRow, select, targets_from_registry

T0 = fakes.T0


def _targets(n: int, node: str = "VN440100") -> list[CameraTarget]:
    return [CameraTarget(f"C{i:03d}", node, f"rtsp://10.0.0.{i}/ch1") for i in range(n)]


_result = fakes.ok_result


def test_plan_spreads_cameras_over_the_interval_and_repeats_each_once_per_interval() -> None:
    """Over three intervals on a manual clock every camera is probed exactly three times, never in one burst."""
    plan = ProbePlan(_targets(200), interval_s=60.0, start=0.0)
    counts: dict[str, int] = {}
    per_second = []
    for second in range(1, 181):
        due = plan.due(float(second))
        per_second.append(len(due))
        for t in due:
            counts[t.camera_id] = counts.get(t.camera_id, 0) + 1
    assert set(counts.values()) == {3}
    # 200 cameras over 60 s is ~3.3 a second; a burst would put them all in one tick.
    assert max(per_second) <= 15


def test_plan_skips_missed_slots_instead_of_catching_up() -> None:
    """After a stall of several intervals a camera is probed once, not once per missed slot."""
    plan = ProbePlan(_targets(5), interval_s=10.0, start=0.0)
    assert len(plan.due(100.0)) == 5
    assert plan.due(100.0) == []
    assert min(d for d in [plan.next_due()] if d is not None) > 100.0


def test_plan_keeps_slots_across_a_camera_list_update() -> None:
    """A registry update keeps existing cameras on their slot and adds the new one."""
    targets = _targets(3)
    plan = ProbePlan(targets, interval_s=10.0, start=0.0)
    plan.due(10.0)
    plan.replace([*targets[1:], CameraTarget("C999", "VN440100", "rtsp://x/1")], now=10.0)
    assert {t.camera_id for t in plan.targets} == {"C001", "C002", "C999"}
    assert {t.camera_id for t in plan.due(30.0)} == {"C001", "C002", "C999"}


async def test_hung_probe_is_killed_at_the_deadline_and_does_not_block_others() -> None:
    """A probe that never returns becomes `offline` at the deadline.

    Its worker is replaced, and the pool keeps probing.
    """
    config = ProbeConfig(open_timeout_s=0.5, read_timeout_s=0.2, deadline_slack_s=0.0, concurrency=2)
    targets = _targets(4)
    async with ProbeRunner(config, fakes.hangs_on_c000) as runner:
        before = set(runner.worker_pids)
        started = time.monotonic()
        results = await asyncio.gather(*(runner.probe(t) for t in targets))
        elapsed = time.monotonic() - started
        assert [r.status for r in results] == ["offline", "ok", "ok", "ok"]
        assert "deadline" in results[0].reason
        # The hung camera cost its deadline (1.1 s) and a worker restart, not a whole hour.
        assert elapsed < 30
        assert runner.killed == 1 and len(set(runner.worker_pids) - before) == 1
        again = await runner.probe(targets[1])
        assert again.status == "ok"


async def test_probe_that_raises_is_a_result_not_a_crash() -> None:
    """A bug in a probe reports the camera as `no_signal` with the error, and the worker carries on."""
    async with ProbeRunner(ProbeConfig(concurrency=1), fakes.broken) as runner:
        result = await runner.probe(_targets(1)[0])
        assert result.status == "no_signal" and "decoder exploded" in result.reason
        assert runner.killed == 0


async def test_scheduler_probes_every_camera_and_keeps_the_latest_result() -> None:
    """Running the scheduler for a short interval probes each camera and records what it found."""
    seen: list[str] = []
    async with ProbeRunner(ProbeConfig(interval_s=0.5, concurrency=2), fakes.healthy) as runner:
        scheduler = Scheduler(_targets(20), runner, on_result=lambda r: seen.append(r.camera_id))
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stop))
        await until(lambda: len(scheduler.latest) >= 20, timeout_s=30, every_s=0.05)
        stop.set()
        await task
    assert set(scheduler.latest) == {t.camera_id for t in _targets(20)}
    assert len(seen) >= 20


def test_heartbeat_counts_online_cameras_and_waits_for_a_full_picture() -> None:
    """A node is reported once all its cameras have a result; faulty pictures count as online, no signal does not."""
    a, b = _targets(3, "VN440100"), _targets(2, "VN440300")
    b = [CameraTarget(f"D{i}", t.node_id, t.url) for i, t in enumerate(b)]
    by_node = {"VN440100": [t.camera_id for t in a], "VN440300": [t.camera_id for t in b]}
    latest = {
        a[0].camera_id: _result(a[0]),
        a[1].camera_id: _result(a[1], "blur"),
        a[2].camera_id: _result(a[2], "no_signal"),
        b[0].camera_id: _result(b[0]),
    }
    beats = node_heartbeats(by_node, latest, version="t", interval_s=60)
    assert beats == [
        {
            "type": "node_heartbeat",
            "node_id": "VN440100",
            "cameras_total": 3,
            "cameras_online": 2,
            "version": "t",
            "interval_s": 60,
        }
    ]


def test_no_heartbeat_while_every_camera_of_the_node_is_unreachable() -> None:
    """A node whose cameras are all `offline` is down: its heartbeat stops so the absence rule can say so."""
    cams = _targets(2)
    latest = {t.camera_id: _result(t, "offline") for t in cams}
    assert node_heartbeats({"VN440100": [t.camera_id for t in cams]}, latest, version="t", interval_s=60) == []


class _WireSender:
    """Encodes like the SDK, then decodes and validates like the worker."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.events: list[Any] = []

    def send(self, stream: str, events: Any, batch_id: str | None = None) -> list[Any]:
        raw = encode_batch_parts(
            stream=stream, source=self.source, batch_id="b1", received_at=None, events=list(events)
        )
        batch = decode_batch(raw)
        self.events.extend(STREAMS[batch.stream].adapter.validate_python(e) for e in batch.events)
        return []

    def flush(self, timeout_s: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass


def test_published_events_are_valid_video_events_from_the_cameras_city_source() -> None:
    """Probe results and heartbeats leave as batches per city source, with rising seq.

    Each batch is one that the worker's models accept.
    """
    registry = generate(halls=150, seed=3)
    sources = node_sources(registry)
    targets = targets_from_registry(registry)[:6]
    senders: dict[str, _WireSender] = {}

    def factory(source: str, city: int) -> _WireSender:
        assert registry.city_of_source(source) == city
        return senders.setdefault(source, _WireSender(source))

    publisher = VideoPublisher(sources, factory, clock=lambda: T0)
    for t in targets:
        publisher.add_result(_result(t, "frozen"))
    publisher.add_heartbeats(
        [
            {
                "type": "node_heartbeat",
                "node_id": targets[0].node_id,
                "cameras_total": 6,
                "cameras_online": 6,
                "version": "t",
                "interval_s": 60,
            }
        ]
    )
    assert publisher.flush() == 7
    assert publisher.pending == 0
    events = [e for s in senders.values() for e in s.events]
    assert len(events) == 7
    probes = [e for e in events if e.type == "camera_probe"]
    assert {e.camera_id for e in probes} == {t.camera_id for t in targets}
    assert all(e.status == "frozen" and e.scores == {"blur": 0.1} for e in probes)
    for sender in senders.values():
        assert all(e.source == sender.source for e in sender.events)
        seqs = [e.seq for e in sender.events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({e.event_id for e in events}) == 7


def test_node_without_a_data_source_is_refused_up_front() -> None:
    """A source format that names no registry source fails at start, naming the node, not later per event."""
    with pytest.raises(ValueError, match="not in the registry"):
        node_sources(generate(halls=150, seed=1), "vgw-{city_code}")


def test_camera_file_overrides_registry_urls_and_shards_split_cameras() -> None:
    """URLs from the camera file win; shards partition the cameras without overlap."""
    registry = generate(halls=150, seed=4)
    first = next(iter(registry.cameras()))
    targets = targets_from_registry(registry, [CameraRow(first.camera_id, "http://127.0.0.1:8081/cam.mjpg")])
    assert next(t for t in targets if t.camera_id == first.camera_id).url == "http://127.0.0.1:8081/cam.mjpg"
    shards = [select(targets, shard=(i, 3)) for i in range(3)]
    ids = [t.camera_id for s in shards for t in s]
    assert sorted(ids) == sorted(t.camera_id for t in targets) and all(shards)
