"""Waiting in tests on state that a running scheduler changes and signals no other way."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], timeout_s: float, every_s: float) -> None:
    """Return once `condition()` holds or `timeout_s` has passed; the test's asserts say what was expected."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(every_s)
