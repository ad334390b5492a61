"""The wire unit: one batch of events from one source is one Kafka message.

Batching is what keeps throughput independent of per-message overhead, so the
gateway, the SDK and the simulator all speak this envelope. Events inside
stay untyped here; each is validated on its own so one bad record never
sinks its neighbours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field

from streams.definitions import StreamName
from streams.models import SCHEMA_VERSION
from streams.models.common import Ident, UtcDatetime

#: Supported envelope versions; a consumer rejects a batch from the future.
SUPPORTED_VERSIONS = frozenset({SCHEMA_VERSION})


class Batch(BaseModel):
    """A batch as it travels on a raw.* topic."""

    model_config = ConfigDict(extra="forbid")

    v: int = SCHEMA_VERSION
    stream: StreamName
    source: Ident
    batch_id: Ident
    received_at: UtcDatetime | None = Field(
        default=None, description="Set by the gateway when it accepted the batch; None from the SDK."
    )
    events: list[Any] = Field(max_length=100_000)
    org: list[Any] | None = Field(
        default=None,
        max_length=100_000,
        description="[city, county, hall] of each event, when the gateway validated them; trusted only under its seal.",
    )


class BatchDecodeError(ValueError):
    """The message is not a batch at all: its events cannot be told apart."""


def encode_batch_parts(
    *,
    stream: str,
    source: str,
    batch_id: str,
    received_at: datetime | None,
    events: list[Any],
    org: list[Any] | None = None,
) -> bytes:
    """Encode without building a model: the gateway already holds parsed events. `org` only when given."""
    batch = {
        "v": SCHEMA_VERSION,
        "stream": stream,
        "source": source,
        "batch_id": batch_id,
        "received_at": received_at,
        "events": events,
    }
    if org is not None:
        batch["org"] = org
    return pydantic_core.to_json(batch)


def decode_batch(raw: bytes | None) -> Batch:
    if not raw:
        raise BatchDecodeError("empty message")  # a tombstone, or a producer sending nothing
    try:
        data = pydantic_core.from_json(raw, allow_inf_nan=False)
    except ValueError as exc:
        raise BatchDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BatchDecodeError("batch is not a JSON object")
    version = data.get("v")
    # `{"v": []}` must not reach the set lookup: an unhashable version would raise, not be refused.
    if not isinstance(version, int) or isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise BatchDecodeError(f"unsupported batch version {data.get('v')!r}")
    try:
        return Batch.model_validate(data)
    except ValueError as exc:
        raise BatchDecodeError(_first_error(exc)) from exc


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        return f"{loc}: {first.get('msg')}"
    return str(exc)
