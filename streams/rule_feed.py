"""The center's own reading of the raw topics, for the event rules, when no worker shares its process.

With the roles split, workers write ClickHouse and one center evaluates the
rules. The center reads the same raw topics in its own consumer group, so it
sees every city's events whichever worker stores them, and a worker
rebalance never moves rule state. Records are validated with the same
validator (or rebuilt, under the gateway's seal, as it validated them); a
rejected one is the worker's to dead-letter and is only skipped here. The
rules count an event id once, so a redelivered or duplicated batch changes
nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from streams.definitions import TOPIC_TO_STREAM
from streams.ingest.batches import AcceptedHook, RawMessage, read_batch
from streams.metrics import Metrics
from streams.models.wire import BatchDecodeError
from streams.validation import Validator
from streams.vetted import BatchSeal


class RuleFeed:
    def __init__(
        self,
        validator: Validator,
        on_accepted: AcceptedHook,
        metrics: Metrics,
        *,
        seal: BatchSeal | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.validator = validator
        self.on_accepted = on_accepted
        self.metrics = metrics
        self.seal = seal
        self.clock = clock

    async def process(self, messages: list[RawMessage]) -> None:
        now = self.clock()
        fresh: dict[str, list[tuple[Any, datetime, int]]] = defaultdict(list)
        for msg in messages:
            spec = TOPIC_TO_STREAM[msg.topic]
            try:
                _, accepted, _ = read_batch(self.validator, self.seal, spec, msg, now, self.metrics)
            except BatchDecodeError:
                continue
            fresh[spec.name] += [(acc.event, acc.event.occurred_at, acc.city_code) for acc in accepted]
        for stream, events in fresh.items():
            self.metrics.rule_feed_events.labels(stream).inc(len(events))
            await self.on_accepted(stream, events)
