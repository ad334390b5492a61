"""Event models for every stream.

The wire contract is versioned by `SCHEMA_VERSION`, carried in every batch
envelope. A change that removes or retypes a field bumps it; adding an
optional field does not. Which stream a model belongs to, and where its
records are stored, is in `streams.definitions`.
"""

from __future__ import annotations

from streams.models.common import EventBase
from streams.models.evaluation import CaseEvent, Evaluation
from streams.models.hall import QueueEvent, WindowEvent
from streams.models.video import CameraProbe, NodeHeartbeat

SCHEMA_VERSION = 1

__all__ = [
    "SCHEMA_VERSION",
    "CameraProbe",
    "CaseEvent",
    "Evaluation",
    "EventBase",
    "NodeHeartbeat",
    "QueueEvent",
    "WindowEvent",
]
