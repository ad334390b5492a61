"""Probe one camera stream: open it, sample a few frames, measure and diagnose.

Blocking, meant for a worker thread (OpenCV releases the GIL while it waits
on the network and decodes). What bounds the time, measured with the pip
opencv-python-headless FFmpeg backend:

- `CAP_PROP_OPEN_TIMEOUT_MSEC` ends an open against a server that accepts
  and stays silent, or sends headers and stalls, for http:// and rtsp://
  alike; `CAP_PROP_READ_TIMEOUT_MSEC` ends a read on a stream that stops
  mid-way. Both work through FFmpeg's interrupt callback.
- A refused connection fails at once. Name resolution is not covered by
  FFmpeg's interrupt callback, which is one reason for the hard deadline in
  runner.py on top of these timeouts.

Before the open, network URLs get a plain TCP connect: a camera whose host
or port does not answer is `offline`; one that answers but delivers no
picture is `no_signal`. A local file that is missing or unreadable is
`no_signal` (there is no network to be offline).
"""

from __future__ import annotations

import math
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cv2

from video_gateway.config import ProbeConfig
from video_gateway.measures import PreparedFrame, prepare
from video_gateway.quality import diagnose

#: Statuses in which a camera is not delivering a picture at all.
NOT_ONLINE = frozenset({"offline", "no_signal"})
NETWORK_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443}
#: The event model's upper bound on fps.
MAX_FPS = 240.0


@dataclass(frozen=True, slots=True)
class CameraTarget:
    """A camera to probe, as the registry (or a URL mapping) knows it."""

    camera_id: str
    node_id: str
    url: str


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """What one probe found; `reason` explains a status other than `ok` for logs and operators."""

    camera_id: str
    node_id: str
    status: str
    probed_at: datetime
    duration_s: float
    reason: str = ""
    fps: float | None = None
    width: int | None = None
    height: int | None = None
    open_latency_ms: float | None = None
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def online(self) -> bool:
        return self.status not in NOT_ONLINE

    def event_fields(self) -> dict[str, Any]:
        """The `camera_probe` fields of a CameraProbe event (the publisher adds the envelope)."""
        return {
            "type": "camera_probe",
            "camera_id": self.camera_id,
            "node_id": self.node_id,
            "status": self.status,
            "fps": None if self.fps is None else round(self.fps, 2),
            "width": self.width,
            "height": self.height,
            "open_latency_ms": None if self.open_latency_ms is None else round(self.open_latency_ms, 1),
            "scores": dict(self.scores),
            "reason": self.reason[:200],
        }


def failed(
    target: CameraTarget, status: str, reason: str, probed_at: datetime, started: float, **figures: Any
) -> ProbeResult:
    return ProbeResult(
        target.camera_id, target.node_id, status, probed_at, time.monotonic() - started, reason=reason, **figures
    )


def probe_camera(target: CameraTarget, config: ProbeConfig) -> ProbeResult:
    """Probe one stream; never raises for a camera's fault, only reports it."""
    probed_at = datetime.now(UTC)
    started = time.monotonic()
    parts = urlsplit(target.url)
    scheme = parts.scheme.lower()
    if scheme in NETWORK_PORTS:
        try:
            _connect(parts.hostname or "", parts.port or NETWORK_PORTS[scheme], config.open_timeout_s)
        except OSError as exc:
            return failed(target, "offline", f"cannot connect: {exc.strerror or exc}", probed_at, started)
    elif scheme in ("", "file"):
        path = Path(parts.path if scheme == "file" else target.url)
        if not path.is_file():
            return failed(target, "no_signal", f"no such file: {path}", probed_at, started)
    else:
        return failed(target, "no_signal", f"unsupported stream scheme {scheme!r}", probed_at, started)
    open_left_ms = max(1.0, (config.open_timeout_s - (time.monotonic() - started)) * 1000)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(open_left_ms),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(config.read_timeout_s * 1000),
    ]
    capture = cv2.VideoCapture()
    try:
        if not capture.open(target.url, cv2.CAP_FFMPEG, params):
            return failed(
                target, "no_signal", f"stream did not open within {config.open_timeout_s:g} s", probed_at, started
            )
        return _sample(target, capture, config, probed_at, started)
    except cv2.error as exc:
        return failed(target, "no_signal", f"decoder error: {exc.err}", probed_at, started)
    finally:
        capture.release()


def _connect(host: str, port: int, timeout_s: float) -> None:
    with socket.create_connection((host, port), timeout=timeout_s):
        pass


def _sample(
    target: CameraTarget, capture: cv2.VideoCapture, config: ProbeConfig, probed_at: datetime, started: float
) -> ProbeResult:
    ok, frame = capture.read()
    if not ok or frame is None:
        return failed(
            target, "no_signal", f"no frame within {config.read_timeout_s:g} s of opening", probed_at, started
        )
    first_at = time.monotonic()
    open_latency_ms = (first_at - started) * 1000
    height, width = frame.shape[:2]
    samples: list[PreparedFrame] = [prepare(frame, config.analysis_width)]
    first_pts = capture.get(cv2.CAP_PROP_POS_MSEC)
    decoded, last_at, last_pts = 1, first_at, first_pts
    stalled = False
    # Sampling gets one read timeout in all: a camera that trickles frames
    # is judged on what arrived rather than holding a worker.
    budget_end = first_at + config.read_timeout_s
    while len(samples) < config.frames and time.monotonic() < budget_end:
        # grab() decodes without the colour conversion; only kept frames pay for it.
        if not capture.grab():
            stalled = True
            break
        decoded += 1
        last_at, last_pts = time.monotonic(), capture.get(cv2.CAP_PROP_POS_MSEC)
        if (decoded - 1) % config.frame_stride == 0:
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                stalled = True
                break
            samples.append(prepare(frame, config.analysis_width))
    fps = _fps(decoded, last_at - first_at, last_pts - first_pts, capture.get(cv2.CAP_PROP_FPS))
    diagnosis = diagnose(samples, config)
    reason = f"stream ended after {decoded} frames" if stalled and len(samples) < config.frames else ""
    if diagnosis.fault and not reason:
        # The score that decided it, so ops see how far past its threshold the picture was.
        reason = (
            f"{diagnosis.status} score {diagnosis.scores.get(diagnosis.status, 0.0):.2f} over {len(samples)} frames"
        )
    return ProbeResult(
        target.camera_id,
        target.node_id,
        diagnosis.status,
        probed_at,
        time.monotonic() - started,
        reason=reason,
        fps=fps,
        width=int(width),
        height=int(height),
        open_latency_ms=open_latency_ms,
        scores=diagnosis.scores,
    )


def _fps(decoded: int, wall_s: float, pts_ms: float, nominal: float) -> float | None:
    """Frames per second as the camera delivers them.

    Wall-clock rate is right for MJPEG over HTTP (FFmpeg invents 25 fps
    timestamps there) but wrong while reading frames FFmpeg buffered during
    the open (RTSP) or from a file (no pacing at all); timestamp rate is right
    in those cases. Each error only ever overstates, so take the smaller.
    """
    candidates = []
    if decoded > 1 and wall_s > 0:
        candidates.append((decoded - 1) / wall_s)
    if decoded > 1 and pts_ms > 0:
        candidates.append((decoded - 1) * 1000.0 / pts_ms)
    if not candidates and 0 < nominal <= MAX_FPS:
        candidates.append(nominal)
    if not candidates:
        return None
    fps = min(candidates)
    return fps if math.isfinite(fps) and fps <= MAX_FPS else MAX_FPS
