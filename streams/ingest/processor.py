"""The worker's ingest step: batches from raw.* topics to the event store and the dead-letter topic.

No offset is committed before its rows are written: the Faust agent acks a
list of messages only once `write_behind` has stored it, and a store ends
only when the `EventStore` has the rows (it retries, with backoff, for as long
as it takes). A redelivered message is recognised by its offset and skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from streams.deadletter import dead_letter
from streams.dedup import SeenIds
from streams.definitions import TOPIC_TO_STREAM
from streams.ingest.batches import AcceptedHook, RawMessage, read_batch
from streams.ingest.port import EventStore, Origin
from streams.metrics import Metrics
from streams.models.wire import BatchDecodeError
from streams.retry import retry_forever
from streams.validation import Accepted, Rejection, Validator
from streams.vetted import BatchSeal

log = structlog.get_logger(__name__)


DeadLetterSend = Callable[[list[tuple[bytes, bytes]]], Awaitable[None]]


@dataclass
class _PartitionState:
    generation: int
    #: (table, city_code) -> highest _offset stored. Per city, not per partition: on a ClickHouse cluster one
    #: INSERT is split across shards by city and a crash can leave one shard written and another not; a city
    #: lives on one shard, so its own high-water mark is exact.
    written: dict[tuple[str, int], int]
    seen: SeenIds


@dataclass
class _Pending:
    #: table -> rows encoded by the store
    rows: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    #: (table, topic, partition, city) -> highest offset in this write
    offsets: dict[tuple[str, str, int, int], int] = field(default_factory=dict)
    dead: list[tuple[bytes, bytes]] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: Accepted events per stream, replays included, for the event rules.
    fresh: dict[str, list[tuple[Any, datetime, int]]] = field(default_factory=lambda: defaultdict(list))
    rejected: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: (stream, seconds since the epoch) per message with rows in this write: when the gateway received it.
    arrivals: list[tuple[str, float]] = field(default_factory=list)


class IngestProcessor:
    def __init__(
        self,
        validator: Validator,
        store: EventStore[Any],
        send_dead_letters: DeadLetterSend,
        metrics: Metrics,
        *,
        dedup_max_ids: int,
        seal: BatchSeal | None = None,
        generations: dict[str, int] | None = None,
        on_accepted: AcceptedHook | None = None,
        retry_max_s: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.validator = validator
        self.store = store
        self.send_dead_letters = send_dead_letters
        self.metrics = metrics
        self.dedup_max_ids = dedup_max_ids
        self.seal = seal
        self.generations = generations or {}
        self.on_accepted = on_accepted
        self.retry_max_s = retry_max_s
        self.clock = clock
        self._state: dict[tuple[str, int], _PartitionState] = {}
        #: Raw topic-partitions this worker was last given; their state is rebuilt as their first message comes.
        self._held = 0
        self._writing: asyncio.Future[None] | None = None

    def hold(self, topic_partitions: list[tuple[str, int]]) -> None:
        """The partitions this worker was given: each then refills its dedup window with its share of them all.

        Without it a partition's share is the budget over the partitions recovered so far, so the first ones read
        back far more ids than they keep (2,000,000, then 1,000,000, ...), which costs memory that grows with
        what the store holds and stays with the process.
        """
        self._held = sum(1 for topic, _ in topic_partitions if topic in TOPIC_TO_STREAM)
        self._share_dedup_budget()

    def forget(self, topic_partitions: list[tuple[str, int]]) -> None:
        """Drop state of partitions this worker no longer owns; another worker rebuilds it."""
        for tp in topic_partitions:
            self._state.pop(tp, None)
        self._share_dedup_budget()

    def _dedup_share(self, partitions: int) -> int:
        return max(1000, self.dedup_max_ids // max(1, partitions, self._held))

    def _share_dedup_budget(self) -> None:
        """One budget of remembered ids per worker, split evenly over the partitions it holds."""
        share = self._dedup_share(len(self._state))
        for state in self._state.values():
            state.seen.resize(share)

    async def process(self, messages: list[RawMessage]) -> None:
        """Read, check and store one list of messages; returns once the store has their rows."""
        await self._store(await self._prepare(messages))

    async def write_behind(self, messages: list[RawMessage], done: Callable[[], None]) -> None:
        """Check `messages` now and store them once the write before them is done; `done` runs after (the acks).

        The next list is decoded, checked and encoded while the store writes the last one (ClickHouse's native part
        leaves the interpreter free). Writes stay one at a time and in offset order, so `done` runs in order too.
        """
        pending = await self._prepare(messages)
        await self.settle()
        self._writing = asyncio.ensure_future(self._store_then(pending, done))

    async def settle(self) -> None:
        """Wait for the write in flight, if any: before partitions move, and when a test or drill needs it done."""
        if self._writing is not None:
            await asyncio.shield(self._writing)  # a cancelled caller must not cut a write short

    async def _store_then(self, pending: _Pending, done: Callable[[], None]) -> None:
        await self._store(pending)
        done()

    async def _prepare(self, messages: list[RawMessage]) -> _Pending:
        now = self.clock()
        pending = _Pending()
        for msg in messages:
            state = self._state.get((msg.topic, msg.partition))
            if state is None:
                state = await self._recover(msg.topic, msg.partition)
            self._process_one(msg, state, now, pending)
        return pending

    async def _store(self, pending: _Pending) -> None:
        # A replayed message sends its dead letters again (the rejections table
        # collapses them by origin and index), so none is lost whatever the
        # order; they go first so that a store outage does not hold them back.
        if pending.dead:
            await self._retry("dead_letter", lambda: self.send_dead_letters(pending.dead))
        # The rules run while the store writes, for the same reason as write_behind.
        write = asyncio.ensure_future(self._write(pending))
        try:
            if self.on_accepted is not None:
                for stream, events in pending.fresh.items():
                    await self.on_accepted(stream, events)
        finally:
            await write
        self._record(pending)

    async def _write(self, pending: _Pending) -> None:
        for table, rows in pending.rows.items():
            await self._insert(table, rows)
        for (table, topic, partition, city), offset in pending.offsets.items():
            state = self._state.get((topic, partition))
            if state is not None:
                state.written[(table, city)] = max(offset, state.written.get((table, city), -1))

    # -- one message -------------------------------------------------------------
    def _process_one(self, msg: RawMessage, state: _PartitionState, now: datetime, pending: _Pending) -> None:
        spec = TOPIC_TO_STREAM[msg.topic]
        origin_id = f"{msg.topic}@{state.generation}:{msg.partition}:{msg.offset}"
        self.metrics.batches_consumed.labels(msg.topic).inc()
        try:
            batch, accepted, rejected = read_batch(self.validator, self.seal, spec, msg, now, self.metrics)
        except BatchDecodeError as exc:
            rej = Rejection(0, "malformed", str(exc)[:300], None, (msg.value or b"")[:65536].decode("utf-8", "replace"))
            pending.dead.append(dead_letter(rej, origin_id, spec.name, None, None, now))
            pending.rejected["malformed"] += 1
            return
        in_this_message: set[str] = set()
        kept: list[Accepted] = []
        for acc in accepted:
            event_id = acc.event.event_id
            if event_id in in_this_message or state.seen.is_duplicate(event_id, msg.offset):
                rejected.append(
                    Rejection(
                        acc.index,
                        "duplicate",
                        f"event_id {event_id} was already accepted",
                        event_id,
                        batch.events[acc.index],
                    )
                )
                continue
            in_this_message.add(event_id)
            state.seen.remember(event_id, msg.offset)
            kept.append(acc)
        source_city = self.validator.registry.city_of_source(batch.source)
        for rej in rejected:
            pending.dead.append(dead_letter(rej, origin_id, spec.name, batch.source, source_city, now))
            pending.rejected[rej.reason] += 1
        to_store: dict[str, list[Accepted]] = {}
        replayed = False
        for acc in kept:
            # Replays too: if the worker died before the rules saw these, they have not;
            # the rules count an event id once, so a second look changes nothing.
            pending.fresh[spec.name].append((acc.event, acc.event.occurred_at, acc.city_code))
            table = spec.kind_of[type(acc.event)].table
            if msg.offset <= state.written.get((table, acc.city_code), -1):
                replayed = True
                continue
            to_store.setdefault(table, []).append(acc)
            pending.offsets[(table, msg.topic, msg.partition, acc.city_code)] = msg.offset
            pending.accepted[spec.name] += 1
        origin = Origin(msg.topic, state.generation, msg.partition, msg.offset, batch.received_at, now)
        for table, events in to_store.items():
            pending.rows[table].extend(self.store.encode(table, events, origin))
        if replayed:
            self.metrics.batches_replayed.labels(msg.topic).inc()
        # From the gateway's receipt (the broker's timestamp for an SDK batch, which has none) until visible.
        arrival = batch.received_at.timestamp() if batch.received_at is not None else msg.timestamp
        if arrival is not None and kept and not replayed:
            pending.arrivals.append((spec.name, arrival))

    # -- recovery --------------------------------------------------------------------
    async def _recover(self, topic: str, partition: int) -> _PartitionState:
        """Read back what the store already holds from this partition."""
        generation = self.generations.get(topic, 1)
        share = self._dedup_share(len(self._state) + 1)
        written: dict[tuple[str, int], int] = await self._retry(
            "recover", lambda: self.store.high_water_marks(topic, generation, partition)
        )
        recent: list[tuple[str, int]] = await self._retry(
            "recover", lambda: self.store.recent_ids(topic, generation, partition, share)
        )
        seen = SeenIds(share)
        for event_id, offset in recent:
            seen.remember(event_id, offset)
        state = _PartitionState(generation, written, seen)
        self._state[(topic, partition)] = state
        self._share_dedup_budget()
        log.info(
            "partition_recovered",
            topic=topic,
            generation=generation,
            partition=partition,
            written=max(written.values(), default=-1),
            seen_ids=len(seen),
        )
        return state

    # -- writes ----------------------------------------------------------------------
    async def _insert(self, table: str, rows: list[Any]) -> None:
        async def write() -> None:
            started = time.perf_counter()
            await self.store.insert(table, rows)
            self.metrics.clickhouse_insert_seconds.labels(table).observe(time.perf_counter() - started)

        await self._retry(table, write)
        self.metrics.clickhouse_insert_rows.labels(table).inc(len(rows))

    async def _retry(self, what: str, action: Callable[[], Awaitable[Any]]) -> Any:
        count = None
        if what not in ("dead_letter", "recover"):
            count = self.metrics.clickhouse_insert_failures.labels(what).inc
        return await retry_forever(what, action, self.metrics, max_delay_s=self.retry_max_s, count_failure=count)

    def _record(self, pending: _Pending) -> None:
        for stream, count in pending.accepted.items():
            self.metrics.events_accepted.labels(stream).inc(count)
        for reason, count in pending.rejected.items():
            self.metrics.events_rejected.labels(reason).inc(count)
        now = time.time()
        for stream, arrival in pending.arrivals:
            self.metrics.processing_latency.labels(stream).observe(max(0.0, now - arrival))
