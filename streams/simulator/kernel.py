"""The simulator's core: a time-ordered agenda of things to happen, and the
emitter that turns what happened into stamped, numbered wire events."""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streams.simulator.hours import iso

#: Called with the instant it was scheduled for.
Action = Callable[[float], None]
#: A JSON-ready event body without the envelope fields the emitter adds.
Fields = dict[str, Any]


class Emitted(NamedTuple):
    """One event ready to post: the stream it goes to, the source sending it and its JSON-ready dict."""

    stream: str
    source: str
    event: dict[str, Any]


class Agenda:
    """A discrete-event agenda: actions run in time order, ties in scheduling order."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Action]] = []
        # A counter breaks ties so that actions (closures) are never compared
        # and same-instant actions run in the order they were scheduled.
        self._counter = itertools.count()

    def at(self, t: float, action: Action) -> None:
        heapq.heappush(self._heap, (t, next(self._counter), action))

    def run_until(self, t_end: float) -> None:
        while self._heap and self._heap[0][0] <= t_end:
            t, _, action = heapq.heappop(self._heap)
            action(t)

    def __len__(self) -> int:
        return len(self._heap)


class Emitter:
    """Numbers events per source and releases them, a few of them late.

    `seq` is assigned at release, in send order, as a node's uploader would;
    `event_id` carries the run id so that a restarted simulator never reuses
    an idempotency key of an earlier run.
    """

    def __init__(self, rng: random.Random, *, late_share: float, late_max_s: float) -> None:
        self._rng = rng
        self.late_share = late_share
        self.late_max_s = late_max_s
        self.run_id = "r0"
        self._pending: list[tuple[float, int, float, str, str, Fields]] = []
        self._counter = itertools.count()
        self._seq: dict[str, int] = {}

    def emit(self, stream: str, source: str, occurred_t: float, fields: Fields, *, may_be_late: bool = True) -> None:
        release_t = occurred_t
        if may_be_late and self.late_share > 0 and self._rng.random() < self.late_share:
            # A node's uploader retrying or a pad syncing later: a few seconds to minutes.
            release_t += self._rng.uniform(3.0, self.late_max_s)
        heapq.heappush(self._pending, (release_t, next(self._counter), occurred_t, stream, source, fields))

    def flush(self, now_t: float) -> list[Emitted]:
        """Every event due by `now_t`, stamped `sent_at = now_t`."""
        out: list[Emitted] = []
        sent_at = iso(now_t)
        while self._pending and self._pending[0][0] <= now_t:
            _, _, occurred_t, stream, source, fields = heapq.heappop(self._pending)
            seq = self._seq.get(source, 0) + 1
            self._seq[source] = seq
            event = {
                "event_id": f"{source}-{self.run_id}-{seq}",
                "source": source,
                "seq": seq,
                "occurred_at": iso(occurred_t),
                "sent_at": sent_at,
            }
            event.update(fields)
            out.append(Emitted(stream, source, event))
        return out

    @property
    def held_back(self) -> int:
        return len(self._pending)


@dataclass(slots=True)
class Kernel:
    """What every part of the model shares: the agenda, the emitter and the clock set-up."""

    agenda: Agenda
    emitter: Emitter
    offset_s: float
    #: Start of the interval the current step covers; periodic signals due
    #: before it were skipped by the caller's clock and are not replayed.
    step_start: float = 0.0
    sources: dict[int, str] = field(default_factory=dict)

    def source_of_city(self, city_code: int) -> str:
        return self.sources[city_code]
