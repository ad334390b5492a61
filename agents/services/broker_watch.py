"""Bounded memory for the embedded broker: renew it, with the whole stack, when it has grown too large.

The embedded broker (Tansu, memory storage only) keeps every message, and
neither retention nor DeleteRecords works on it. Deleting a topic does free
its memory, but a Faust worker cannot move to a new topic while it runs,
and one that stays subscribed while its topic is deleted and recreated
skips records silently. So the stack renews the broker as a whole: when
the broker's resident memory reaches GOVPULSE_EMBEDDED_BROKER_MAX_MB, this
service says so, `govpulse up` stops cleanly (the gateway first, the worker
writing and committing what it holds) and executes itself again with the
same arguments, the same process id and the same listening socket, so a
city node's request waits in the socket's queue instead of being refused.
The new process starts a new, empty broker; the registry comes back from
its snapshot on disk, and any batch answered 202 and not yet stored from
the gateway's spool.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from agents.services.children import EmbeddedChildren
from agents.settings import Settings
from connectors.embedded import rss_bytes
from streams.metrics import Metrics

log = structlog.get_logger(__name__)

#: How often the broker's memory is read.
CHECK_EVERY_S = 5.0
MB = 1024 * 1024


class BrokerWatch:
    name = "broker watch"

    def __init__(self, settings: Settings, children: EmbeddedChildren, metrics: Metrics) -> None:
        self.settings = settings
        self.children = children
        self.metrics = metrics
        #: Set once the broker has reached its limit: the process should renew itself.
        self.renew = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def broker_rss(self) -> int | None:
        broker = next((c for c in self.children.children if c.name == "tansu"), None)
        return rss_bytes(broker.pid) if broker is not None and broker.pid is not None else None

    def check(self) -> bool:
        """Read the broker's memory; True (and `renew` set) once it has reached the limit."""
        rss = self.broker_rss()
        if rss is None:
            return False
        self.metrics.broker_rss_bytes.set(rss)
        limit = self.settings.embedded_broker_max_mb * MB
        if limit and rss >= limit and not self.renew.is_set():
            log.warning("broker_renewal_due", rss_mb=round(rss / MB), limit_mb=self.settings.embedded_broker_max_mb)
            self.renew.set()
        return self.renew.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="broker-watch")

    async def _watch(self) -> None:
        # Polls: the broker is another process, and /proc is the only place its memory shows.
        while True:
            if self.check():
                return
            await asyncio.sleep(CHECK_EVERY_S)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
