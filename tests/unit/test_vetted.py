"""Sealed batches: the worker rebuilds what the gateway validated, and trusts nothing else."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic_core
import pytest
from prometheus_client import CollectorRegistry

from connectors.clickhouse.rows import ROW_BUILDERS
from streams.definitions import KIND_OF, STREAMS
from streams.ingest.batches import RawMessage, read_batch
from streams.ingest.memory_store import MemoryEventStore, StoredEvent
from streams.ingest.port import Origin
from streams.ingest.processor import IngestProcessor
from streams.metrics import Metrics
from streams.models.wire import BatchDecodeError, decode_batch, encode_batch_parts
from streams.registry.generate import generate
from streams.simulator import Simulation
from streams.validation import Accepted, Validator
from streams.vetted import HEADER, BatchSeal, encode_vetted

REGISTRY = generate(halls=150)
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Beijing on a working day: halls open, every stream busy
NOW = START + timedelta(minutes=6)
SEAL = BatchSeal(b"k" * 32)


@pytest.fixture(scope="module")
def traffic() -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Five simulated minutes of every stream, as nodes send them, by (stream, source)."""
    sim = Simulation(REGISTRY, rate_eps=40, seed=11)
    batches: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for step in range(30):
        for stream, source, event in sim.step(START + timedelta(seconds=10 * step), 10.0):
            if stream != "case":  # case steps must arrive in order; they are validated the same way below
                batches[(stream, source)].append(event)
    assert {stream for stream, _ in batches} == {"queue", "window", "evaluation", "video"}
    return batches


def _gateway_message(
    stream: str, source: str, events: list[dict[str, Any]], seal: BatchSeal, offset: int = 0
) -> RawMessage:
    """What the gateway writes: the accepted events as validated, their org paths, and the seal."""
    accepted, _ = Validator(REGISTRY).validate(STREAMS[stream], source, events, NOW)
    value = encode_vetted(stream=stream, source=source, batch_id=f"b{offset}", received_at=NOW, accepted=accepted)
    return RawMessage(STREAMS[stream].topic, 0, offset, value, headers=seal.headers(value))


def _vet(message: RawMessage, now: datetime = NOW) -> tuple[list[Accepted], list[Any]]:
    spec = STREAMS[decode_batch(message.value).stream]
    _, accepted, rejected = read_batch(Validator(REGISTRY), SEAL, spec, message, now, Metrics(CollectorRegistry()))
    return accepted, rejected


def _row(acc: Accepted, origin: Origin | None = None) -> tuple[Any, ...]:
    """The ClickHouse row of an accepted event."""
    [row] = ROW_BUILDERS[KIND_OF[type(acc.event)].table].rows([acc], origin or Origin("raw.x", 1, 0, 0, NOW, NOW))
    return row


def _rows(stored: list[StoredEvent]) -> list[tuple[Any, ...]]:
    return [_row(s.accepted, s.origin) for s in stored]


def test_a_sealed_batch_rebuilds_exactly_what_validation_made(traffic) -> None:
    """Every stream: the same events, equal field by field and in type, the same org path, the same ClickHouse row."""
    for (stream, source), events in traffic.items():
        validated, rejected = Validator(REGISTRY).validate(STREAMS[stream], source, events, NOW)
        assert validated and not rejected
        rebuilt, none = _vet(_gateway_message(stream, source, events, SEAL))
        assert none == []
        assert len(rebuilt) == len(validated)
        for fast, slow in zip(rebuilt, validated, strict=True):
            assert type(fast.event) is type(slow.event)
            assert fast.event == slow.event
            assert fast.event.occurred_at.tzinfo is slow.event.occurred_at.tzinfo
            assert (fast.city_code, fast.county_code, fast.hall_id) == (slow.city_code, slow.county_code, slow.hall_id)
            assert _row(fast) == _row(slow)
            assert fast.event.model_dump_json() == slow.event.model_dump_json()


def _reseal(message: RawMessage, seal: BatchSeal, change) -> RawMessage:
    data = pydantic_core.from_json(message.value)
    change(data)
    value = pydantic_core.to_json(data)
    return RawMessage(message.topic, 0, 0, value, headers=seal.headers(value))


def _queue(traffic) -> tuple[str, list[dict[str, Any]]]:
    return next((source, events) for (stream, source), events in traffic.items() if stream == "queue")


def test_an_org_path_under_another_key_is_ignored_and_the_batch_validated(traffic) -> None:
    """A producer that writes its own `org` cannot move events to another city: without our seal it is validated."""
    source, events = _queue(traffic)
    honest = _gateway_message("queue", source, events, SEAL)
    city = REGISTRY.city_of_source(source)
    other = 440300 if city != 440300 else 440100

    def claim_other(data: dict[str, Any]) -> None:
        data["org"] = [[other, None, None] for _ in data["org"]]

    forged = _reseal(honest, BatchSeal(b"x" * 32), claim_other)
    accepted, rejected = _vet(forged)
    assert accepted and not rejected
    assert {acc.city_code for acc in accepted} == {city}  # resolved from the registry, not taken from `org`
    # Our seal on another value: the bytes were changed after sealing.
    tampered = RawMessage(honest.topic, 0, 0, forged.value, headers=honest.headers)
    assert {acc.city_code for acc in _vet(tampered)[0]} == {city}
    # An SDK batch has no seal at all.
    unsealed = RawMessage(honest.topic, 0, 0, forged.value)
    assert {acc.city_code for acc in _vet(unsealed)[0]} == {city}


def test_a_sealed_batch_that_does_not_rebuild_is_validated_in_full(traffic) -> None:
    """Fields of another version, a short `org`: the worker falls back to validation, giving each record its reason."""
    source, events = _queue(traffic)
    honest = _gateway_message("queue", source, events, SEAL)

    def add_field(data: dict[str, Any]) -> None:
        data["events"][0]["priority"] = 1

    accepted, rejected = _vet(_reseal(honest, SEAL, add_field))
    assert [r.index for r in rejected] == [0] and rejected[0].reason == "schema" and "priority" in rejected[0].detail
    assert len(accepted) == len(events) - 1

    def drop_org(data: dict[str, Any]) -> None:
        data["org"] = data["org"][:-1]

    accepted, rejected = _vet(_reseal(honest, SEAL, drop_org))
    assert len(accepted) == len(events) and not rejected

    def bad_time(data: dict[str, Any]) -> None:
        data["events"][1]["occurred_at"] = "yesterday"

    accepted, rejected = _vet(_reseal(honest, SEAL, bad_time))
    assert [r.index for r in rejected] == [1] and rejected[0].reason == "schema"


def test_a_sealed_message_that_is_no_batch_of_its_topic_is_refused_as_one(traffic) -> None:
    """The seal never excuses the envelope: junk, a future version or another stream's batch is a BatchDecodeError."""
    source, events = _queue(traffic)
    honest = _gateway_message("queue", source, events, SEAL)
    spec, metrics = STREAMS["queue"], Metrics(CollectorRegistry())

    def read(value: bytes) -> Any:
        return read_batch(
            Validator(REGISTRY),
            SEAL,
            spec,
            RawMessage(honest.topic, 0, 0, value, headers=SEAL.headers(value)),
            NOW,
            metrics,
        )

    def future(data: dict[str, Any]) -> None:
        data["v"] = 2

    def other_stream(data: dict[str, Any]) -> None:
        data["stream"] = "window"

    def org_mapping(data: dict[str, Any]) -> None:
        data["org"] = {"0": [440100, None, None]}

    for value, reason in (
        (b"{not json", "not JSON"),
        (_reseal(honest, SEAL, future).value, "unsupported batch version"),
        (_reseal(honest, SEAL, other_stream).value, "batch of stream window"),
        (_reseal(honest, SEAL, org_mapping).value, "org"),
    ):
        with pytest.raises(BatchDecodeError, match=reason):
            read(value)
    assert metrics.batches_sealed.labels(honest.topic)._value.get() == 0


def test_the_gateway_clock_stands_for_a_sealed_batch(traffic) -> None:
    """Accepted at the gateway, stored even when the worker reads it past the age limit; an unsealed batch is not."""
    source, events = _queue(traffic)
    sealed = _gateway_message("queue", source, events, SEAL)
    later = NOW + timedelta(days=8)
    assert len(_vet(sealed, later)[0]) == len(events)
    accepted, rejected = _vet(RawMessage(sealed.topic, 0, 0, sealed.value), later)
    assert not accepted and {r.reason for r in rejected} == {"too_old"}


def test_the_key_is_long_and_never_shown() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        BatchSeal(b"short")
    key = b"s3cret-" * 8
    assert "s3cret" not in repr(BatchSeal(key))
    assert BatchSeal(key).headers(b"v")[0][0] == HEADER
    assert not BatchSeal(key).is_sealed(b"v", None)
    assert BatchSeal(key).is_sealed(b"v", {HEADER: BatchSeal(key).headers(b"v")[0][1]})  # a consumer's mapping form
    assert not BatchSeal(key).is_sealed(b"v", [(HEADER, "not bytes")])


async def test_the_worker_stores_the_same_rows_sealed_or_not(traffic) -> None:
    """The worker's whole step, sealed batches against the same events validated in full: the same rows and verdicts."""
    stored = []
    for seal in (SEAL, None):
        store, letters = MemoryEventStore(), []

        async def send(items: list[tuple[bytes, bytes]], letters: list = letters) -> None:
            letters.extend(items)

        metrics = Metrics(CollectorRegistry())
        processor = IngestProcessor(
            Validator(REGISTRY),
            store,
            send,
            metrics,
            dedup_max_ids=1_000_000,
            seal=SEAL,
            retry_max_s=0.01,
            clock=lambda: NOW,
        )
        messages = []
        for offset, ((stream, source), events) in enumerate(traffic.items()):
            if seal is not None:
                messages.append(_gateway_message(stream, source, events, seal, offset))
            else:
                value = encode_batch_parts(
                    stream=stream, source=source, batch_id=f"b{offset}", received_at=NOW, events=events
                )
                messages.append(RawMessage(STREAMS[stream].topic, 0, offset, value))
        # A replayed id inside the sealed traffic is still the worker's to refuse: dedup is not the gateway's.
        messages.append(RawMessage(messages[0].topic, 0, len(messages), messages[0].value, headers=messages[0].headers))
        await processor.process(messages)
        sealed = sum(
            sample.value for sample in metrics.batches_sealed.collect()[0].samples if sample.name.endswith("_total")
        )
        assert sealed == (len(messages) if seal is not None else 0)
        stored.append(({table: _rows(rows) for table, rows in store.tables.items()}, len(letters)))
    (sealed_rows, sealed_letters), (plain_rows, plain_letters) = stored
    assert sealed_rows.keys() == plain_rows.keys()
    for table in plain_rows:
        # The raw batch's `_offset` and `ingested_at` are the same; the rows must be too, in order.
        assert sealed_rows[table] == plain_rows[table], table
    assert sealed_letters == plain_letters == len(traffic[next(iter(traffic))])
