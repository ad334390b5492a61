"""Benchmark: how many cameras one gateway probes per minute per core at 640x360, and its peak RSS.

Run: python -m tests.bench.video_probe [--cameras 600] [--concurrency 8]
Serves live MJPEG hall cameras (640x360, 25 fps) from a separate process,
probes each of them once through the gateway's runner and scheduler, and
prints the figures. "Per core" divides the probes by the CPU time the
gateway's processes (the parent and its probe workers) spent, so the camera
server's CPU is not counted. Not a test: nothing here fails on a slow machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from tests.integration.video_servers import FRAME_INTERVAL_S
from video_gateway.config import ProbeConfig
from video_gateway.probe import CameraTarget
from video_gateway.runner import ProbeRunner
from video_gateway.scheduler import Scheduler

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def _bench(port: int, cameras: int, config: ProbeConfig) -> None:
    url = f"http://127.0.0.1:{port}/hall/{{n}}.mjpg"
    targets = [CameraTarget(f"B{n:05d}", "VN440100", url.format(n=n)) for n in range(cameras)]
    async with ProbeRunner(config) as runner:
        scheduler = Scheduler(targets, runner)
        # Warm-up: every worker has imported OpenCV and opened a stream once.
        await scheduler.probe_once(targets[: config.concurrency])
        pids = [os.getpid(), *runner.worker_pids]
        cpu_before = sum(_cpu_s(p) for p in pids)
        started = time.monotonic()
        results = await scheduler.probe_once(targets)
        wall_s = time.monotonic() - started
        cpu_s = sum(_cpu_s(p) for p in pids) - cpu_before
        worker_rss = [_peak_rss_mb(p) for p in runner.worker_pids]
    parent_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    statuses = Counter(r.status for r in results)
    per_probe_ms = sorted(r.duration_s * 1000 for r in results)
    print(f"cameras probed:                 {len(results)} (statuses: {dict(statuses)})")
    print(f"stream:                         MJPEG over HTTP, 640x360, {1 / FRAME_INTERVAL_S:.0f} fps, live-paced")
    print(f"probe workers (concurrency):    {config.concurrency}")
    print(
        f"frames analysed / decoded:      {config.frames} / {1 + (config.frames - 1) * config.frame_stride} per probe"
    )
    print(
        f"wall time:                      {wall_s:.1f} s -> {len(results) / wall_s * 60:.0f} cameras/min "
        "on this machine"
    )
    print(
        f"probe duration p50 / p95:       {per_probe_ms[len(per_probe_ms) // 2]:.0f} / "
        f"{per_probe_ms[int(len(per_probe_ms) * 0.95)]:.0f} ms"
    )
    print(f"gateway CPU time:               {cpu_s:.1f} s ({cpu_s / len(results) * 1000:.1f} ms per camera)")
    print(f"cameras per minute per core:    {len(results) / cpu_s * 60:.0f}")
    print(f"peak RSS parent:                {parent_rss:.0f} MB")
    print(f"peak RSS per worker (max):      {max(worker_rss):.0f} MB")
    print(f"peak RSS gateway total:         {parent_rss + sum(worker_rss):.0f} MB")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cameras", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.video_servers"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        asyncio.run(_bench(port, args.cameras, ProbeConfig(concurrency=args.concurrency)))
    finally:
        server.terminate()
        server.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
