"""Event models for every stream, and the catalogue that maps a stream to its model.

The wire contract is versioned by `SCHEMA_VERSION`, carried in every batch
envelope. A change that removes or retypes a field bumps it; adding an
optional field does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import Field, TypeAdapter

from streams.models.common import EventBase
from streams.models.evaluation import CaseEvent, Evaluation
from streams.models.hall import QueueEvent, WindowEvent
from streams.models.video import CameraProbe, NodeHeartbeat

SCHEMA_VERSION = 1

StreamName = Literal["queue", "window", "evaluation", "case", "video"]

VideoEvent = Annotated[NodeHeartbeat | CameraProbe, Field(discriminator="type")]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """A stream: its name, the raw topic its batches travel on and its event model."""

    name: StreamName
    topic: str
    adapter: TypeAdapter[Any]
    title: str


STREAMS: dict[str, StreamSpec] = {
    spec.name: spec
    for spec in (
        StreamSpec("queue", "raw.queue", TypeAdapter(QueueEvent), "Hall queue (排队叫号)"),
        StreamSpec("window", "raw.window", TypeAdapter(WindowEvent), "Service window"),
        StreamSpec("evaluation", "raw.evaluation", TypeAdapter(Evaluation), "Evaluation (好差评)"),
        StreamSpec("case", "raw.case", TypeAdapter(CaseEvent), "Bad-review case (差评工单)"),
        StreamSpec("video", "raw.video", TypeAdapter(VideoEvent), "Video network: node heartbeat and camera probe"),
    )
}
TOPIC_TO_STREAM = {spec.topic: spec for spec in STREAMS.values()}
#: The event models of each stream; a stream with more than one tells them apart by `type`.
STREAM_MODELS: dict[str, tuple[type[EventBase], ...]] = {
    "queue": (QueueEvent,),
    "window": (WindowEvent,),
    "evaluation": (Evaluation,),
    "case": (CaseEvent,),
    "video": (NodeHeartbeat, CameraProbe),
}

__all__ = [
    "SCHEMA_VERSION",
    "STREAMS",
    "STREAM_MODELS",
    "TOPIC_TO_STREAM",
    "CameraProbe",
    "CaseEvent",
    "Evaluation",
    "EventBase",
    "NodeHeartbeat",
    "QueueEvent",
    "StreamName",
    "StreamSpec",
    "WindowEvent",
]
