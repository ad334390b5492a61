"""What every service of the stack is: something started once and stopped once, in the stack's order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import structlog

log = structlog.get_logger("agents.stack")
T = TypeVar("T")

#: The longest one step of a stop may take before the stop moves on to the next.
STOP_TIMEOUT_S = 15.0


class Service(Protocol):
    """A part of the running stack.

    `stop()` is called for a service whose `start()` was called, even if that start failed half-way, so it undoes
    only what exists; it runs each of its own steps through `stop_step`, so that one failing step does not keep
    the next from running.
    """

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class NotRunning(RuntimeError):
    """A handle asked of a service this process does not run (its role is not here) or has not started yet."""


def running(value: T | None, what: str) -> T:
    """`value`, which its service sets as it starts; NotRunning before that, or when this process does not run it."""
    if value is None:
        raise NotRunning(f"{what} is not running in this process")
    return value


async def stop_step(part: str, step: Callable[[], Awaitable[object]], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """One step of a stop, bounded in time; a failure is logged and the stop goes on with the next step."""
    try:
        await asyncio.wait_for(step(), timeout=timeout_s)
    except Exception as exc:  # noqa: BLE001 - keep stopping the rest
        log.warning("stop_failed", part=part, error=str(exc)[:300])
