"""Dead letters: a rejected record, its reason and where the verdict was given.

Each dead letter names its origin (`gw:<batch_id>` or `<topic>:<partition>:<offset>`)
and its index in the batch, so a dead letter produced twice after a crash is
recognisable and collapses to one row in ClickHouse.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pydantic_core

from streams.validation import Rejection

DEAD_LETTER_TOPIC = "deadletter"
_RECORD_MAX_CHARS = 65_536


def _record_text(record: Any) -> str:
    if isinstance(record, str):
        text = record
    else:
        try:
            text = pydantic_core.to_json(record).decode()
        except (ValueError, TypeError):
            text = repr(record)
    return text[:_RECORD_MAX_CHARS]


def dead_letter(
    rej: Rejection, origin: str, stream: str, source: str | None, city_code: int | None, now: datetime
) -> tuple[bytes, bytes]:
    """(key, value) for the dead-letter topic, keyed by city like the raw topics."""
    value = {
        "v": 1,
        "origin": origin,
        "index": rej.index,
        "reason": rej.reason,
        "detail": rej.detail,
        "stream": stream,
        "source": source or "",
        "city_code": city_code or 0,
        "event_id": rej.event_id or "",
        "record": _record_text(rej.record),
        "rejected_at": now.isoformat(),
    }
    return str(city_code or 0).encode(), pydantic_core.to_json(value)


def rejection_row(raw: bytes, partition: int, offset: int) -> tuple[Any, ...] | None:
    """A `rejections` row from a dead-letter message, or None if it is not one of ours."""
    try:
        d = pydantic_core.from_json(raw)
        return (
            str(d["origin"]),
            int(d["index"]),
            str(d["reason"]),
            str(d["detail"]),
            str(d["stream"]),
            str(d["source"]),
            int(d["city_code"]),
            str(d["event_id"]),
            str(d["record"]),
            datetime.fromisoformat(d["rejected_at"]),
            partition,
            offset,
        )
    except (ValueError, KeyError, TypeError):
        return None
