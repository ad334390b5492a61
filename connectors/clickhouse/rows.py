"""How an accepted event becomes a row: the columns of each raw table, and how its rows are made.

Keyed by table name, the name each event kind stores into (`streams.definitions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.ingest.port import Origin
from streams.models import CameraProbe, CaseEvent, Evaluation, NodeHeartbeat, QueueEvent, WindowEvent
from streams.validation import Accepted
from streams.workdays import DEFAULT as WORKING_DAYS

HEAD = (
    "event_id",
    "type",
    "source",
    "seq",
    "occurred_at",
    "sent_at",
    "received_at",
    "ingested_at",
    "city_code",
    "county_code",
)
TAIL = ("_topic", "_generation", "_partition", "_offset")


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def ms(at: datetime) -> int:
    """A DateTime64(3) value as the client writes it: whole milliseconds since the epoch, truncated as it truncates.

    Rows carry these instead of datetimes because clickhouse-connect converts each datetime in Python, per value;
    an int goes into the block as it is.
    """
    return (at - EPOCH) // _MS


Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class RowBuilder:
    """A raw table's columns (HEAD, the body's, TAIL) and the function that makes the body of a row."""

    columns: tuple[str, ...]
    body: Callable[[Any, Accepted], tuple[Any, ...]]

    def rows(self, accepted: list[Accepted], origin: Origin) -> list[Row]:
        """The rows of events of this table's kind, all read from the message at `origin`."""
        # Once per message, not once per row.
        received_ms = None if origin.received_at is None else ms(origin.received_at)
        ingested_ms = ms(origin.ingested_at)
        tail = (origin.topic, origin.generation, origin.partition, origin.offset)
        body = self.body
        out = []
        for acc in accepted:
            ev: Any = acc.event  # every event model has a `type`, each its own Literal; EventBase has none
            head = (
                ev.event_id,
                ev.type,
                ev.source,
                ev.seq,
                ms(ev.occurred_at),
                ms(ev.sent_at),
                received_ms,
                ingested_ms,
                acc.city_code,
                acc.county_code or 0,
            )
            out.append(head + body(ev, acc) + tail)
        return out


def _s(value: str | None) -> str:
    return value or ""


def _queue(ev: QueueEvent, _: Accepted) -> tuple[Any, ...]:
    return (
        ev.hall_id,
        ev.ticket_no,
        _s(ev.item_id),
        _s(ev.dept_id),
        _s(ev.window_id),
        _s(ev.to_window_id),
        _s(ev.staff_id),
        ev.appointment,
    )


def _window(ev: WindowEvent, _: Accepted) -> tuple[Any, ...]:
    return (ev.hall_id, ev.window_id, _s(ev.staff_id))


def _evaluation(ev: Evaluation, _: Accepted) -> tuple[Any, ...]:
    return (
        ev.case_no,
        ev.item_id,
        ev.dept_id,
        ev.level,
        ev.channel,
        ev.mode,
        _s(ev.hall_id),
        _s(ev.window_id),
        _s(ev.staff_id),
        _s(ev.device_id),
        list(ev.reason_tags),
        ev.comment,
        ev.evaluator_hash,
    )


def _case(ev: CaseEvent, _: Accepted) -> tuple[Any, ...]:
    deadline_at = (
        None if ev.deadline_working_days is None else WORKING_DAYS.deadline(ev.occurred_at, ev.deadline_working_days)
    )
    return (
        ev.case_id,
        ev.case_no,
        ev.dept_id,
        _s(ev.to_dept_id),
        _s(ev.direction),
        ev.deadline_working_days,
        deadline_at,
        _s(ev.outcome),
    )


def _heartbeat(ev: NodeHeartbeat, _: Accepted) -> tuple[Any, ...]:
    return (ev.node_id, ev.cameras_total, ev.cameras_online, ev.version, ev.interval_s)


def _probe(ev: CameraProbe, acc: Accepted) -> tuple[Any, ...]:
    return (
        ev.camera_id,
        _s(acc.hall_id),
        ev.node_id,
        ev.status,
        ev.fps,
        ev.width,
        ev.height,
        ev.open_latency_ms,
        dict(ev.scores),
        ev.reason,
    )


def _builder(body_columns: tuple[str, ...], body: Callable[..., tuple[Any, ...]]) -> RowBuilder:
    return RowBuilder(HEAD + body_columns + TAIL, body)


#: Raw table -> its row builder.
ROW_BUILDERS: dict[str, RowBuilder] = {
    "queue_events": _builder(
        ("hall_id", "ticket_no", "item_id", "dept_id", "window_id", "to_window_id", "staff_id", "appointment"),
        _queue,
    ),
    "window_events": _builder(("hall_id", "window_id", "staff_id"), _window),
    "evaluations": _builder(
        (
            "case_no",
            "item_id",
            "dept_id",
            "level",
            "channel",
            "mode",
            "hall_id",
            "window_id",
            "staff_id",
            "device_id",
            "reason_tags",
            "comment",
            "evaluator_hash",
        ),
        _evaluation,
    ),
    "case_events": _builder(
        ("case_id", "case_no", "dept_id", "to_dept_id", "direction", "deadline_working_days", "deadline_at", "outcome"),
        _case,
    ),
    "node_heartbeats": _builder(("node_id", "cameras_total", "cameras_online", "version", "interval_s"), _heartbeat),
    "camera_probes": _builder(
        ("camera_id", "hall_id", "node_id", "status", "fps", "width", "height", "open_latency_ms", "scores", "reason"),
        _probe,
    ),
}
REJECTION_COLUMNS = (
    "origin",
    "record_index",
    "reason",
    "detail",
    "stream",
    "source",
    "city_code",
    "event_id",
    "record",
    "rejected_at",
    "_partition",
    "_offset",
)
