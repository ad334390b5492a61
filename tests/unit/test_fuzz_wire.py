"""A short atheris run of the topic door in CI: raw bytes → decode → validate, nothing but refusals or outcomes.

The full run is `python -m tests.fuzz.wire_door -runs=200000` (a script, not a test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_twenty_thousand_fuzzed_messages_are_decoded_or_refused() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.fuzz.wire_door", "-runs=20000", "-seed=2260"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-3000:]
    assert "atheris wire door: tried 20000" in report and "mishandled 0" in report


def test_inputs_that_once_crashed_the_door_are_refused_as_malformed() -> None:
    from streams.models.wire import BatchDecodeError, decode_batch

    crashes = sorted((REPO / "tests" / "fuzz" / "wire_crashes").iterdir())
    assert crashes
    for crash in crashes:
        with pytest.raises(BatchDecodeError):
            decode_batch(crash.read_bytes())
