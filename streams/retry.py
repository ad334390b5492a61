"""Retry a sink write until it succeeds: a sink that is down holds commits back, it never drops."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from streams.metrics import Metrics

log = structlog.get_logger(__name__)
T = TypeVar("T")


async def retry_forever(
    what: str,
    action: Callable[[], Awaitable[T]],
    metrics: Metrics,
    *,
    max_delay_s: float,
    count_failure: Callable[[], None] | None = None,
) -> T:
    delay = 0.2
    failures = 0
    while True:
        try:
            result = await action()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every sink failure is retried, counted and logged
            failures += 1
            metrics.sink_stalled.set(1)
            if count_failure is not None:
                count_failure()
            log.warning("sink_retry", target=what, attempt=failures, error=str(exc)[:300], retry_in_s=round(delay, 2))
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)
            continue
        if failures:
            metrics.sink_stalled.set(0)
            log.info("sink_recovered", target=what, attempts=failures + 1)
        return result
