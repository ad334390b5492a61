"""Every stream, defined once: its topic, its event kinds, where each kind is stored and how it resolves.

A stream is a `Stream` in `STREAMS`; every other table about streams is derived
from that list: the validator's TypeAdapter and registry resolution, the topic
of a stream and the stream of a topic, the raw table of each event model, the
scopes an event rule may place a stream's events in, and the tables a backtest
replays. Adding a stream is one `Stream` here, one migration creating its table
(connectors/clickhouse/migrations/) and one row builder for that table
(connectors/clickhouse/rows.py); tests/unit/test_stream_definitions.py checks
that the three agree.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

from pydantic import Field, TypeAdapter

from streams.indicators.query import ScopeKind
from streams.models import CameraProbe, CaseEvent, Evaluation, NodeHeartbeat, QueueEvent, WindowEvent
from streams.models.common import EventBase
from streams.registry import Department, Hall, Registry

StreamName = Literal["queue", "window", "evaluation", "case", "video"]
E = TypeVar("E", bound=EventBase)

#: Where an event belongs in the org: (city_code, county_code, hall_id).
Place = tuple[int, int | None, str | None]


class UnknownEntity(Exception):
    """An event names a hall, window, camera, node, department or item the registry does not list (or misplaces)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class EventKind(Generic[E]):
    """One event model of a stream, the raw table its records are stored in, and how they resolve."""

    model: type[E]
    #: The raw ClickHouse table; its columns and row builder are connectors.clickhouse.rows.ROW_BUILDERS[table].
    table: str
    #: (registry, event, the sender's city) → the event's place, or UnknownEntity. The sender's city stands for
    #: an event whose own entities name none (an online evaluation, a case of a provincial department).
    resolve: Callable[[Registry, E, int], Place]
    #: The stored columns an event rule may match or key on when a backtest replays this kind from its table.
    rule_columns: tuple[str, ...]
    #: The values of the model's `type` field.
    types: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", tuple(get_args(self.model.model_fields["type"].annotation)))


@dataclass(frozen=True, slots=True)
class Stream:
    """A stream of events: the raw topic its batches travel on, its event kinds, and the scopes rules may use."""

    name: StreamName
    title: str
    topic: str
    kinds: tuple[EventKind[Any], ...]
    #: Scopes an event of this stream can be placed in (through its hall, dept, source or node in the registry).
    scopes: tuple[ScopeKind, ...]
    #: Validates one record into its model; discriminated on `type` when the stream has several.
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)
    models: tuple[type[EventBase], ...] = field(init=False, repr=False)
    tables: tuple[str, ...] = field(init=False, repr=False)
    kind_of: dict[type[EventBase], EventKind[Any]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        models = tuple(kind.model for kind in self.kinds)
        object.__setattr__(self, "models", models)
        object.__setattr__(self, "tables", tuple(dict.fromkeys(kind.table for kind in self.kinds)))
        object.__setattr__(self, "kind_of", {kind.model: kind for kind in self.kinds})
        object.__setattr__(self, "adapter", _adapter(models))


def _adapter(models: tuple[type[EventBase], ...]) -> TypeAdapter[Any]:
    if len(models) == 1:
        return TypeAdapter(models[0])
    union: Any = functools.reduce(operator.or_, models)
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


# -- registry lookups the resolvers share -------------------------------------------------


def known_hall(registry: Registry, hall_id: str) -> Hall:
    hall = registry.hall(hall_id)
    if hall is None:
        raise UnknownEntity(f"hall {hall_id} is not in the registry")
    return hall


def window_in_hall(registry: Registry, window_id: str | None, hall_id: str) -> None:
    if window_id is None:
        return
    window = registry.window(window_id)
    if window is None:
        raise UnknownEntity(f"window {window_id} is not in the registry")
    if window.hall_id != hall_id:
        raise UnknownEntity(f"window {window_id} is not in hall {hall_id}")


def known_dept(registry: Registry, dept_id: str | None) -> Department | None:
    if dept_id is None:
        return None
    dept = registry.department(dept_id)
    if dept is None:
        raise UnknownEntity(f"department {dept_id} is not in the registry")
    return dept


def known_item(registry: Registry, item_id: str | None) -> None:
    if item_id is not None and registry.item(item_id) is None:
        raise UnknownEntity(f"service item {item_id} is not in the registry")


def _in_hall(hall: Hall) -> Place:
    return hall.city_code, hall.county_code, hall.hall_id


# -- one resolver per event kind ----------------------------------------------------------


def _queue(registry: Registry, ev: QueueEvent, _: int) -> Place:
    hall = known_hall(registry, ev.hall_id)
    window_in_hall(registry, ev.window_id, hall.hall_id)
    window_in_hall(registry, ev.to_window_id, hall.hall_id)
    known_dept(registry, ev.dept_id)
    known_item(registry, ev.item_id)
    return _in_hall(hall)


def _window(registry: Registry, ev: WindowEvent, _: int) -> Place:
    hall = known_hall(registry, ev.hall_id)
    window_in_hall(registry, ev.window_id, hall.hall_id)
    return _in_hall(hall)


def _evaluation(registry: Registry, ev: Evaluation, sender_city: int) -> Place:
    known_dept(registry, ev.dept_id)
    known_item(registry, ev.item_id)
    if ev.hall_id is None:
        return sender_city, None, None
    hall = known_hall(registry, ev.hall_id)
    window_in_hall(registry, ev.window_id, hall.hall_id)
    return _in_hall(hall)


def _case(registry: Registry, ev: CaseEvent, sender_city: int) -> Place:
    dept = known_dept(registry, ev.dept_id)
    known_dept(registry, ev.to_dept_id)
    # A provincial department has no city: its cases count in the sender's.
    city = dept.city_code if dept is not None and dept.city_code is not None else sender_city
    return city, None, None


def _heartbeat(registry: Registry, ev: NodeHeartbeat, _: int) -> Place:
    node = registry.node(ev.node_id)
    if node is None:
        raise UnknownEntity(f"video node {ev.node_id} is not in the registry")
    return node.city_code, None, None


def _probe(registry: Registry, ev: CameraProbe, _: int) -> Place:
    camera = registry.camera(ev.camera_id)
    if camera is None:
        raise UnknownEntity(f"camera {ev.camera_id} is not in the registry")
    if camera.node_id != ev.node_id:
        raise UnknownEntity(f"camera {ev.camera_id} does not belong to node {ev.node_id}")
    return _in_hall(known_hall(registry, camera.hall_id))


# -- the streams --------------------------------------------------------------------------

STREAMS: dict[str, Stream] = {
    stream.name: stream
    for stream in (
        Stream(
            "queue",
            "Hall queue (排队叫号)",
            "raw.queue",
            (
                EventKind(
                    QueueEvent,
                    "queue_events",
                    _queue,
                    rule_columns=("type", "hall_id", "window_id", "staff_id", "dept_id", "source"),
                ),
            ),
            scopes=("province", "city", "county", "hall", "dept", "source"),
        ),
        Stream(
            "window",
            "Service window",
            "raw.window",
            (
                EventKind(
                    WindowEvent,
                    "window_events",
                    _window,
                    rule_columns=("type", "hall_id", "window_id", "staff_id", "source"),
                ),
            ),
            scopes=("province", "city", "county", "hall", "source"),
        ),
        Stream(
            "evaluation",
            "Evaluation (好差评)",
            "raw.evaluation",
            (
                EventKind(
                    Evaluation,
                    "evaluations",
                    _evaluation,
                    rule_columns=(
                        "type",
                        "level",
                        "channel",
                        "mode",
                        "hall_id",
                        "window_id",
                        "staff_id",
                        "device_id",
                        "evaluator_hash",
                        "dept_id",
                        "source",
                    ),
                ),
            ),
            scopes=("province", "city", "county", "hall", "dept", "source"),
        ),
        Stream(
            "case",
            "Bad-review case (差评工单)",
            "raw.case",
            (EventKind(CaseEvent, "case_events", _case, rule_columns=("type", "dept_id", "source")),),
            scopes=("province", "city", "dept", "source"),
        ),
        Stream(
            "video",
            "Video network: node heartbeat and camera probe",
            "raw.video",
            (
                EventKind(NodeHeartbeat, "node_heartbeats", _heartbeat, rule_columns=("type", "node_id", "source")),
                EventKind(
                    CameraProbe,
                    "camera_probes",
                    _probe,
                    # hall_id is the camera's hall, stored from the registry: probes do not carry it.
                    rule_columns=("type", "camera_id", "node_id", "status", "hall_id", "source"),
                ),
            ),
            scopes=("province", "city", "source"),
        ),
    )
}

# -- derived ------------------------------------------------------------------------------

TOPIC_TO_STREAM: dict[str, Stream] = {stream.topic: stream for stream in STREAMS.values()}
#: Each event model's kind, whatever its stream.
KIND_OF: dict[type[EventBase], EventKind[Any]] = {kind.model: kind for s in STREAMS.values() for kind in s.kinds}
#: The raw table of every event kind.
EVENT_TABLES: frozenset[str] = frozenset(kind.table for kind in KIND_OF.values())
