"""The video network: each city's video node sends heartbeats, and every hall
camera is probed once per cycle, mostly fine, sometimes faulty."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import partial

from streams.registry import Camera, Registry, VideoNode
from streams.simulator.kernel import Fields, Kernel

NODE_VERSION = "3.2.1"
#: Chance per probe that a healthy camera develops a fault, and how many probes a fault lasts.
P_FAULT = 0.004
FAULT_PROBES = (1, 12)
#: Share of cameras already faulty when the simulation starts (about the steady state).
P_FAULTY_AT_START = 0.025
FAULTS = ("offline", "no_signal", "black", "frozen", "blur", "occluded", "color_cast", "noise", "brightness")
FAULT_WEIGHTS = (35.0, 10.0, 10.0, 10.0, 15.0, 5.0, 5.0, 5.0, 5.0)
#: Statuses in which a camera counts as not online in its node's heartbeat.
NOT_ONLINE = frozenset({"offline", "no_signal"})
#: Scores a probe reports: one per detectable picture fault.
SCORED = ("black", "frozen", "blur", "occluded", "color_cast", "noise", "brightness", "no_signal")
RESOLUTIONS = ((1920, 1080), (2560, 1440), (1280, 720))
RESOLUTION_WEIGHTS = (80.0, 10.0, 10.0)


@dataclass(slots=True, eq=False)
class CameraSim:
    camera: Camera
    width: int
    height: int
    fault: str | None = None
    fault_left: int = 0


@dataclass(slots=True, eq=False)
class NodeSim:
    node: VideoNode
    cameras: list[CameraSim]
    offline_until: float = float("-inf")

    def offline(self, t: float) -> bool:
        return t < self.offline_until


class VideoNet:
    """Heartbeats and probes of every video node, on the shared agenda."""

    def __init__(
        self,
        registry: Registry,
        kernel: Kernel,
        rng: random.Random,
        *,
        heartbeat_interval_s: float,
        probe_interval_s: float,
    ) -> None:
        if heartbeat_interval_s < 1 or probe_interval_s <= 0:
            raise ValueError("heartbeat_interval_s must be at least 1 and probe_interval_s positive")
        self.kernel = kernel
        self.rng = rng
        self.heartbeat_interval_s = heartbeat_interval_s
        self.probe_interval_s = probe_interval_s
        self.nodes: dict[str, NodeSim] = {}
        for node in registry.nodes():
            if not isinstance(node, VideoNode):
                continue
            cameras = []
            for camera in registry.cameras_of_node(node.node_id):
                width, height = rng.choices(RESOLUTIONS, weights=RESOLUTION_WEIGHTS)[0]
                cameras.append(CameraSim(camera, width, height))
            self.nodes[node.node_id] = NodeSim(node, cameras)

    @property
    def events_per_s(self) -> float:
        cameras = sum(len(n.cameras) for n in self.nodes.values())
        return len(self.nodes) / self.heartbeat_interval_s + cameras / self.probe_interval_s

    def start(self, t: float) -> None:
        rng, at = self.rng, self.kernel.agenda.at
        for node in self.nodes.values():
            at(t + rng.uniform(0, self.heartbeat_interval_s), partial(self._heartbeat, node))
            for cam in node.cameras:
                if rng.random() < P_FAULTY_AT_START:
                    self._new_fault(cam)
                # Probes are spread over the cycle so the prober's load stays flat.
                at(t + rng.uniform(0, self.probe_interval_s), partial(self._probe, node, cam))

    def take_offline(self, node_id: str, until: float) -> None:
        self.nodes[node_id].offline_until = until

    # -- periodic signals ------------------------------------------------------------

    def _heartbeat(self, node: NodeSim, t: float) -> None:
        self.kernel.agenda.at(t + self.heartbeat_interval_s, partial(self._heartbeat, node))
        # A slot the caller's clock skipped is not replayed: a live node does not backfill heartbeats.
        if node.offline(t) or t < self.kernel.step_start:
            return
        online = sum(1 for c in node.cameras if c.fault not in NOT_ONLINE)
        fields: Fields = {
            "type": "node_heartbeat",
            "node_id": node.node.node_id,
            "cameras_total": len(node.cameras),
            "cameras_online": online,
            "version": NODE_VERSION,
            "interval_s": max(1, min(3600, round(self.heartbeat_interval_s))),
        }
        self.kernel.emitter.emit("video", node.node.node_id, t, fields, may_be_late=False)

    def _probe(self, node: NodeSim, cam: CameraSim, t: float) -> None:
        self.kernel.agenda.at(t + self.probe_interval_s, partial(self._probe, node, cam))
        self._advance_fault(cam)
        if t < self.kernel.step_start:
            return
        status = "offline" if node.offline(t) else (cam.fault or "ok")
        fields: Fields = {"type": "camera_probe", "camera_id": cam.camera.camera_id, "node_id": node.node.node_id}
        fields.update(self._measure(cam, status))
        self.kernel.emitter.emit("video", node.node.node_id, t, fields, may_be_late=False)

    def _advance_fault(self, cam: CameraSim) -> None:
        if cam.fault is not None:
            cam.fault_left -= 1
            if cam.fault_left <= 0:
                cam.fault = None
        elif self.rng.random() < P_FAULT:
            self._new_fault(cam)

    def _new_fault(self, cam: CameraSim) -> None:
        cam.fault = self.rng.choices(FAULTS, weights=FAULT_WEIGHTS)[0]
        cam.fault_left = self.rng.randint(*FAULT_PROBES)

    def _measure(self, cam: CameraSim, status: str) -> Fields:
        rng = self.rng
        if status == "offline":
            return {"status": status, "fps": None, "width": None, "height": None, "open_latency_ms": None, "scores": {}}
        latency = round(min(rng.lognormvariate(math.log(350), 0.35), 30_000.0), 1)
        if status == "no_signal":
            return {
                "status": status,
                "fps": 0.0,
                "width": cam.width,
                "height": cam.height,
                "open_latency_ms": latency,
                "scores": {"no_signal": round(rng.uniform(0.9, 1.0), 3)},
            }
        scores = {name: round(rng.uniform(0.0, 0.15), 3) for name in SCORED if name != "no_signal"}
        if status != "ok":
            scores[status] = round(rng.uniform(0.75, 1.0), 3)
        # A frozen picture still decodes at full rate: only the frame difference gives it away.
        fps = round(min(max(rng.gauss(25.0, 0.4), 15.0), 30.0), 2)
        return {
            "status": status,
            "fps": fps,
            "width": cam.width,
            "height": cam.height,
            "open_latency_ms": latency,
            "scores": scores,
        }
