"""The gateway probes real network cameras: MJPEG over HTTP, RTSP, and cameras that hang or are gone.

No Kafka here: these tests stop at the probe results (the publisher's wire
format is covered by the unit tests). Timing bounds are generous: they tell
"ended by its timeout" from "hung", not fast from slow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.video_servers import (
    MjpegServer,
    SilentServer,
    StallingServer,
    closed_port,
    rtsp_camera,
    rtsp_unavailable_reason,
)
from video_gateway.config import ProbeConfig
from video_gateway.probe import CameraTarget, ProbeResult, probe_camera
from video_gateway.runner import ProbeRunner
from video_gateway.scheduler import Scheduler

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mjpeg() -> MjpegServer:
    with MjpegServer() as server:
        yield server


def test_mjpeg_camera_over_http_is_ok_with_its_real_figures(mjpeg: MjpegServer) -> None:
    """A live MJPEG hall camera is `ok`, at 640x360, and its fps is the pace the camera sends (25), not a guess."""
    result = probe_camera(CameraTarget("C1", "VN440100", mjpeg.url("hall")), ProbeConfig())
    assert result.status == "ok", (result.reason, result.scores)
    assert (result.width, result.height) == (640, 360)
    assert result.fps is not None and 15 <= result.fps <= 35
    assert result.open_latency_ms is not None and 0 < result.open_latency_ms < 5000


def test_capped_mjpeg_camera_is_black(mjpeg: MjpegServer) -> None:
    """The picture is diagnosed over the network too: a capped lens streams, and is `black`."""
    result = probe_camera(CameraTarget("C2", "VN440100", mjpeg.url("black")), ProbeConfig())
    assert result.status == "black" and result.online


@pytest.fixture(scope="module")
def rtsp_available() -> None:
    reason = rtsp_unavailable_reason()
    if reason:
        pytest.skip(reason)


def test_rtsp_camera_is_online_with_its_resolution_and_rate(rtsp_available: None) -> None:
    """An H.264 RTSP camera (GStreamer's RTSP server) opens and reports 640x360 at ~25 fps.

    Its moving picture is not frozen."""
    with rtsp_camera("ball") as url:
        result = probe_camera(CameraTarget("C3", "VN440100", url), ProbeConfig())
    assert result.online, result.reason
    assert (result.width, result.height) == (640, 360)
    # Frames buffered during the open arrive at once; the rate must come from timestamps.
    assert result.fps is not None and 20 <= result.fps <= 30
    assert result.scores["frozen"] < 0.5


def test_rtsp_camera_with_a_dead_sensor_is_black(rtsp_available: None) -> None:
    """The picture is diagnosed over RTSP too: a camera streaming black H.264 is online and `black`."""
    with rtsp_camera("black") as url:
        result = probe_camera(CameraTarget("C4", "VN440100", url), ProbeConfig())
    assert result.online and result.status == "black", (result.reason, result.scores)


async def test_hanging_and_dead_cameras_end_by_their_timeouts_without_delaying_healthy_ones(mjpeg: MjpegServer) -> None:
    """A camera that accepts and stays silent, one that stalls after its headers, and a closed port end
    within the configured timeouts with the right status, while healthy cameras probed alongside finish
    long before them."""
    config = ProbeConfig(open_timeout_s=4.0, read_timeout_s=2.0, concurrency=8)
    finished: dict[str, float] = {}
    with SilentServer() as silent, StallingServer() as stalling:
        targets = [
            CameraTarget("SILENT", "VN440100", f"http://127.0.0.1:{silent.port}/cam.mjpg"),
            CameraTarget("SILENT-RTSP", "VN440100", f"rtsp://127.0.0.1:{silent.port}/cam"),
            CameraTarget("STALLING", "VN440100", f"http://127.0.0.1:{stalling.port}/cam.mjpg"),
            CameraTarget("CLOSED", "VN440100", f"rtsp://127.0.0.1:{closed_port()}/cam"),
            *(CameraTarget(f"HEALTHY-{n}", "VN440100", mjpeg.url("hall", n)) for n in range(3)),
        ]
        started = 0.0

        def record(result: ProbeResult) -> None:
            finished[result.camera_id] = time.monotonic() - started

        async with ProbeRunner(config) as runner:
            started = time.monotonic()
            scheduler = Scheduler(targets, runner, on_result=record)
            results = {r.camera_id: r for r in await scheduler.probe_once()}
    assert results["CLOSED"].status == "offline" and "connect" in results["CLOSED"].reason
    for hung in ("SILENT", "SILENT-RTSP", "STALLING"):
        assert results[hung].status == "no_signal", (hung, results[hung].reason)
        # Ended by the open timeout (4 s), well inside the hard deadline.
        assert 3.0 <= finished[hung] < config.deadline_s(), (hung, finished[hung])
    first_hung_done = min(finished[h] for h in ("SILENT", "SILENT-RTSP", "STALLING"))
    assert finished["CLOSED"] < first_hung_done
    for n in range(3):
        healthy = results[f"HEALTHY-{n}"]
        assert healthy.status == "ok", (healthy.reason, healthy.scores)
        # A healthy probe takes about half a second: it is done before any hung camera gives up.
        assert finished[f"HEALTHY-{n}"] < first_hung_done
    assert set(scheduler.latest) == {t.camera_id for t in targets}


def test_unreadable_or_missing_file_is_no_signal(tmp_path: Path) -> None:
    """A camera file that is not a video at all is `no_signal`, with the reason, and a missing file too."""
    junk = tmp_path / "not-a-video.avi"
    junk.write_bytes(b"RIFF0000AVI garbage" * 100)
    config = ProbeConfig(open_timeout_s=2.0, read_timeout_s=1.0)
    for path in (junk, tmp_path / "missing.avi"):
        result = probe_camera(CameraTarget("C5", "VN440100", str(path)), config)
        assert result.status == "no_signal" and result.reason, path


def test_cli_once_dry_run_probes_cameras_from_a_camera_file(mjpeg: MjpegServer, tmp_path: Path) -> None:
    """`video-gateway --once --dry-run` with a CSV camera file prints one camera_probe event per camera."""
    cameras = tmp_path / "cameras.csv"
    cameras.write_text(
        "camera_id,node_id,url\n"
        f"CAM-A,VN440100,{mjpeg.url('hall', 7)}\n"
        f"CAM-B,VN440100,http://127.0.0.1:{closed_port()}/x.mjpg\n",
        encoding="utf-8",
    )
    code = (
        "import argparse, sys; from video_gateway import cli; p = argparse.ArgumentParser(); "
        "s = p.add_subparsers(dest='cmd'); cli.add_parser(s); sys.exit(cli.run(p.parse_args(sys.argv[1:])))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "video-gateway", "--cameras", str(cameras), "--once", "--dry-run"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    by_camera = {e["camera_id"]: e for e in events if e["type"] == "camera_probe"}
    assert by_camera["CAM-A"]["status"] == "ok" and by_camera["CAM-A"]["width"] == 640
    assert by_camera["CAM-B"]["status"] == "offline"
