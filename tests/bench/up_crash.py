"""The whole-process crash drill at full size: `govpulse up` killed with SIGKILL at random moments, restarted.

Run: .venv/bin/python -m tests.bench.up_crash [--events 100000] [--kills 10] [--seed 1]
Prints sent, answered 202, stored, lost and doubled (tests/integration/test_up_crash.py runs a short form in CI).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from tests.integration.up_crash_drill import run

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="govpulse-up-crash-"))
    report = run(root, events=args.events, kills=args.kills, seed=args.seed)
    print(f"whole-process crash drill: {report.summary()}", flush=True)
