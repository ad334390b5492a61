"""The crash drill at full size: 100,000 events, the worker killed with SIGKILL at random moments.

Run: .venv/bin/python -m tests.bench.crash [--events 100000] [--kills 8] [--seed 1]
Prints what was accepted, stored, lost and doubled (tests/integration/test_crash.py runs a short form in CI).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.integration.crash_drill import run

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = run(Path(tempfile.mkdtemp(prefix="govpulse-crash-")), events=args.events, kills=args.kills, seed=args.seed)
    print(f"crash drill: {report.summary()}", flush=True)
