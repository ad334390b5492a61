"""Batches the gateway has validated, handed to the worker without validating them twice.

Validation was half of the worker's time, and every record that came through
the gateway had already passed it there. The gateway therefore writes the
events it accepted in their validated form, with the org path each resolved
to, and seals the message with an HMAC-SHA256 under a key that gateways and
workers share (a Kafka header). A worker holding the key that finds the seal
good rebuilds the events as they were validated. Every other batch, an SDK
producer's, one sealed under another key, one that does not rebuild, is
validated in full: the key saves work, it never lets a record skip a check.

The clock checks are the gateway's too: it ran them at `received_at`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson

from streams.definitions import KIND_OF, STREAMS
from streams.models import SCHEMA_VERSION
from streams.models.common import EventBase
from streams.models.wire import Batch, encode_batch_parts
from streams.validation import Accepted

HEADER = "govpulse-seal"
_TIMES = ("occurred_at", "sent_at")


class BatchSeal:
    """Signs batch values at the gateway and recognises them at the worker."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a batch signing key has at least 32 bytes")
        self._key = key

    @classmethod
    def random(cls) -> BatchSeal:
        """A key for one process that is both gateway and worker; a batch left from before a restart is validated."""
        return cls(secrets.token_bytes(32))

    def __repr__(self) -> str:  # the key never reaches a log line
        return "BatchSeal(<key>)"

    def _mac(self, value: bytes) -> bytes:
        return hmac.new(self._key, value, hashlib.sha256).digest()

    def headers(self, value: bytes) -> list[tuple[str, bytes]]:
        return [(HEADER, self._mac(value))]

    def is_sealed(self, value: bytes, headers: Iterable[tuple[str, bytes]] | Mapping[str, bytes] | None) -> bool:
        if not headers:
            return False
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        for name, mac in pairs:
            if name == HEADER and isinstance(mac, bytes):
                return hmac.compare_digest(mac, self._mac(value))
        return False


def encode_vetted(*, stream: str, source: str, batch_id: str, received_at: datetime, accepted: list[Accepted]) -> bytes:
    """The accepted events as validated (UTC times, defaults filled), and `org`: [city, county, hall] for each."""
    return encode_batch_parts(
        stream=stream,
        source=source,
        batch_id=batch_id,
        received_at=received_at,
        events=[acc.event for acc in accepted],
        org=[(acc.city_code, acc.county_code, acc.hall_id) for acc in accepted],
    )


#: Stream → its model, or → {type: model} for a stream of several, told apart by `type` as its validator does.
_MODELS: dict[str, type[EventBase] | dict[str, type[EventBase]]] = {
    stream.name: stream.models[0]
    if len(stream.models) == 1
    else {t: kind.model for kind in stream.kinds for t in kind.types}
    for stream in STREAMS.values()
}
#: Each model's field names, looked up once: pydantic's `model_fields` is a property that costs microseconds per call.
_FIELDS = {model: frozenset(model.model_fields) for model in KIND_OF}


def _model_of(stream: str, record: dict[str, Any]) -> type[EventBase]:
    model = _MODELS[stream]
    return model[record["type"]] if isinstance(model, dict) else model


def _build(model: type[EventBase], record: dict[str, Any]) -> EventBase:
    """The instance validation made, set up as pydantic's own model_construct does, without its per-field loop."""
    if record.keys() != _FIELDS[model]:
        raise ValueError(f"fields differ from {model.__name__}")  # another version's gateway: validate instead
    for name in _TIMES:
        record[name] = datetime.fromisoformat(record[name])
    event = object.__new__(model)
    object.__setattr__(event, "__dict__", record)  # the decoded dict becomes the instance's own: nothing else uses it
    object.__setattr__(event, "__pydantic_fields_set__", set(record))
    object.__setattr__(event, "__pydantic_extra__", None)
    object.__setattr__(event, "__pydantic_private__", None)
    return event


def open_sealed(value: bytes) -> Batch | None:
    """A sealed batch decoded without validating its envelope: the gateway wrote it. None if it does not read as one.

    orjson, not pydantic's parser: this JSON is the gateway's own, and orjson reads it in about two thirds of the
    time. (It refuses integers beyond 64 bits as a whole-document error, which is why untrusted input does not use it.)
    """
    try:
        data = orjson.loads(value)
        received_at = data["received_at"]
        return Batch.model_construct(
            v=data["v"],
            stream=data["stream"],
            source=data["source"],
            batch_id=data["batch_id"],
            received_at=None if received_at is None else datetime.fromisoformat(received_at),
            events=data["events"],
            org=data["org"],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def rebuild(batch: Batch) -> list[Accepted] | None:
    """The events of a sealed batch as the gateway accepted them, or None when they do not rebuild (validate them)."""
    org = batch.org
    if (
        batch.v != SCHEMA_VERSION
        or not isinstance(org, list)
        or not isinstance(batch.events, list)
        or len(org) != len(batch.events)
    ):
        return None
    try:
        accepted = []
        for index, (record, (city, county, hall)) in enumerate(zip(batch.events, org, strict=True)):
            accepted.append(Accepted(index, _build(_model_of(batch.stream, record), record), city, county, hall))
        return accepted
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
