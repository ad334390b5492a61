"""Cameras on the network for the video tests and the probe benchmark.

- `MjpegServer`: HTTP MJPEG cameras (multipart/x-mixed-replace), paced at
  25 fps like an IP camera's sub-stream: `/hall/<n>.mjpg` shows a rendered
  service hall, `/black/<n>.mjpg` a camera with its lens capped.
- `SilentServer`: accepts TCP connections and never answers.
- `StallingServer`: answers with MJPEG headers and the start of a part, then stalls.
- `rtsp_camera`: GStreamer's RTSP server under Debian's python3 (see rtsp_server.py).

Run as a module to serve MJPEG cameras from their own process (the benchmark
does, so the server's CPU is not counted as the gateway's):
`python -m tests.integration.video_servers --port 0` prints `READY <port>`.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

from tests.unit.video import scenes

BOUNDARY = b"govpulseframe"
FRAME_INTERVAL_S = 1 / 25
RTSP_SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def _jpegs(frames: Iterator[np.ndarray]) -> list[bytes]:
    return [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes() for f in frames]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server: _MjpegHttpServer

    def do_GET(self) -> None:
        kind = self.path.strip("/").split("/")[0]
        frames = self.server.streams.get(kind)
        if frames is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        self.end_headers()
        next_at = time.monotonic()
        try:
            for n in range(10**9):
                jpeg = frames[n % len(frames)]
                self.wfile.write(
                    b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
                )
                self.wfile.write(jpeg + b"\r\n")
                next_at += FRAME_INTERVAL_S
                time.sleep(max(0.0, next_at - time.monotonic()))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the probe has what it needs and hung up

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        pass


class _MjpegHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    streams: dict[str, list[bytes]]


class MjpegServer:
    """MJPEG cameras on 127.0.0.1, one server thread per connected client."""

    def __init__(self, port: int = 0) -> None:
        self._httpd = _MjpegHttpServer(("127.0.0.1", port), _Handler)
        self._httpd.streams = {
            "hall": _jpegs(scenes.hall_frames(scenes.HallLook(seed=61, people=7, noise=2.5), 50)),
            "black": _jpegs(scenes.hall_frames(scenes.HallLook(seed=62), 10, scenes.black)),
        }
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def url(self, kind: str, n: int = 0) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{n}.mjpg"

    def __enter__(self) -> MjpegServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class SilentServer:
    """A camera that accepts the connection and then says nothing, ever."""

    greeting = b""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def _serve(self) -> None:
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            if self.greeting:
                with contextlib.suppress(OSError):
                    conn.settimeout(2.0)
                    conn.recv(4096)
                    conn.sendall(self.greeting)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._conns:
            conn.close()
        self._sock.close()


class StallingServer(SilentServer):
    """A camera that starts an MJPEG answer (headers, a part header) and then stalls."""

    greeting = (
        b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=" + BOUNDARY + b"\r\n\r\n"
        b"--" + BOUNDARY + b"\r\nContent-Type: image/jpeg\r\nContent-Length: 40000\r\n\r\n\xff\xd8\xff"
    )


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rtsp_unavailable_reason() -> str | None:
    """Why the RTSP camera cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return (
            "GStreamer RTSP server for Debian's python3 is not installed (tests/debian-packages.txt): "
            + probe.stderr.strip()[-200:]
        )
    return None


@contextlib.contextmanager
def rtsp_camera(pattern: str = "ball") -> Iterator[str]:
    """An RTSP camera at rtsp://127.0.0.1:<port>/hall while the context is open."""
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, str(RTSP_SERVER), "--pattern", pattern],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"RTSP server did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
        yield f"rtsp://127.0.0.1:{int(line.split()[1])}/hall"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    with MjpegServer(args.port) as server:
        print(f"READY {server.port}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
