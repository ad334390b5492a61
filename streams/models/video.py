"""The video network: node heartbeats and camera probe results."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from streams.models.common import EventBase, Ident, ShortText

CameraStatus = Literal[
    "ok",
    "offline",
    "no_signal",
    "black",
    "frozen",
    "blur",
    "occluded",
    "color_cast",
    "noise",
    "brightness",
]
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]


class NodeHeartbeat(EventBase):
    """A video node saying it is alive, with how many of its cameras are online."""

    type: Literal["node_heartbeat"] = "node_heartbeat"
    node_id: Ident
    cameras_total: int = Field(ge=0, le=100_000)
    cameras_online: int = Field(ge=0, le=100_000)
    version: ShortText = ""
    interval_s: int = Field(default=60, ge=1, le=3600)

    @model_validator(mode="after")
    def _online_within_total(self) -> NodeHeartbeat:
        if self.cameras_online > self.cameras_total:
            raise ValueError("cameras_online exceeds cameras_total")
        return self


class CameraProbe(EventBase):
    """The result of probing one camera stream: status, stream figures and fault scores."""

    type: Literal["camera_probe"] = "camera_probe"
    camera_id: Ident
    node_id: Ident
    status: CameraStatus
    fps: float | None = Field(default=None, ge=0, le=240, allow_inf_nan=False)
    width: int | None = Field(default=None, ge=0, le=16384)
    height: int | None = Field(default=None, ge=0, le=16384)
    open_latency_ms: float | None = Field(default=None, ge=0, le=600_000, allow_inf_nan=False)
    scores: dict[CameraStatus, Score] = Field(default_factory=dict, max_length=10)
    #: What the prober saw, in words (optional; older nodes omit it).
    reason: ShortText = ""
