"""A live RTSP camera for the video tests: GStreamer's RTSP server with a moving test pattern.

Runs under Debian's /usr/bin/python3 (PyGObject and GstRtspServer come from
apt, not from the venv). Prints `READY <port>` once it listens, then serves
until killed. H.264 at 640x360, 25 fps, a key frame every second, like a
hall camera's sub-stream.

Usage: /usr/bin/python3 rtsp_server.py [--port 0] [--pattern ball]
"""

from __future__ import annotations

import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402 - versions must be pinned before the import

PIPELINE = (
    "( videotestsrc is-live=true pattern={pattern} "
    "! video/x-raw,width=640,height=360,framerate=25/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=25 bitrate=800 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--pattern", default="ball", help="videotestsrc pattern: ball (a moving ball), snow, black, ..."
    )
    args = parser.parse_args()
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE.format(pattern=args.pattern))
    # One pipeline for every client: several probes at once must not each start an encoder.
    factory.set_shared(True)
    server.get_mount_points().add_factory("/hall", factory)
    server.attach(None)
    print(f"READY {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
