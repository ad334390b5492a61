"""Probe functions for runner tests: module-level, so spawned worker processes can import them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from video_gateway.config import ProbeConfig
from video_gateway.probe import CameraTarget, ProbeResult

T0 = datetime(2024, 5, 20, 2, 0, tzinfo=UTC)


def ok_result(target: CameraTarget, status: str = "ok") -> ProbeResult:
    return ProbeResult(
        target.camera_id,
        target.node_id,
        status,
        T0,
        0.1,
        fps=25.0,
        width=640,
        height=360,
        open_latency_ms=120.0,
        scores={"blur": 0.1},
    )


def healthy(target: CameraTarget, _config: ProbeConfig) -> ProbeResult:
    return ok_result(target)


def hangs_on_c000(target: CameraTarget, _config: ProbeConfig) -> ProbeResult:
    """Camera C000 never returns (as if stuck in name resolution); the others answer at once."""
    if target.camera_id == "C000":
        time.sleep(3600)
    return ok_result(target)


def broken(target: CameraTarget, _config: ProbeConfig) -> ProbeResult:
    raise RuntimeError("decoder exploded")
