"""Named anomalies a demo or a test can inject at any moment, each aimed at one
hall, staff member or video node for a while, so that alert rules have
something to find."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from streams.simulator.hall_state import HallSim, WindowSim, staff_hall_id
from streams.simulator.halls import Halls
from streams.simulator.reviews import Reviews
from streams.simulator.video import VideoNet

#: Scenario name -> one line in Chinese and English.
SCENARIOS: dict[str, str] = {
    "long_queue": "排队积压：一个大厅取号量增至10倍、半数窗口暂停，等候时间持续上升 / "
    "one hall gets 10x arrivals with half its windows paused, so waits grow",
    "node_offline": "视频节点离线：停发心跳，所辖摄像头探测结果均为离线 / "
    "one video node stops its heartbeats and its cameras probe as offline",
    "bad_review_burst": "差评集中爆发：数分钟内一个大厅或一名工作人员收到大量不满意/非常不满意 / "
    "a burst of 不满意/非常不满意 for one hall or staff member within minutes",
    "evaluation_brushing": "刷好评：同一设备短时间内提交大量非常满意评价 / "
    "one device_id submits many 非常满意 evaluations in quick succession",
}
DEFAULT_DURATION_S: dict[str, float] = {
    "long_queue": 1800.0,
    "node_offline": 600.0,
    "bad_review_burst": 300.0,
    "evaluation_brushing": 300.0,
}


@dataclass(frozen=True, slots=True)
class Injected:
    """What an injection did: the scenario, its target and when it ends."""

    name: str
    target: str
    start: datetime
    until: datetime
    details: dict[str, Any] = field(default_factory=dict)


class Scenarios:
    """Applies named anomalies to the hall, review and video models."""

    def __init__(self, halls: Halls, reviews: Reviews, video: VideoNet, rng: random.Random) -> None:
        self.halls = halls
        self.reviews = reviews
        self.video = video
        self.rng = rng

    def inject(
        self, name: str, t: float, target: str | None, duration_s: float | None, params: dict[str, Any]
    ) -> Injected:
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        duration = float(duration_s if duration_s is not None else DEFAULT_DURATION_S[name])
        if duration <= 0:
            raise ValueError(f"duration_s must be positive, got {duration}")
        until = t + duration
        apply = getattr(self, f"_{name}")
        try:
            chosen, details = apply(t, until, target, **params)
        except TypeError as exc:
            raise ValueError(f"scenario {name}: {exc}") from None
        return Injected(name, chosen, _dt(t), _dt(until), details)

    # -- the scenarios ---------------------------------------------------------------

    def _long_queue(
        self, t: float, until: float, target: str | None, factor: float = 10.0
    ) -> tuple[str, dict[str, Any]]:
        hs = self._hall(target, t)
        hs.boost = float(factor)
        self.halls.rebuild_weights()
        candidates = [w for w in hs.windows if w.staffed and not w.held] or [w for w in hs.windows if not w.held]
        held = self.rng.sample(candidates, math.ceil(len(candidates) / 2))
        for w in held:
            self.halls.hold(hs, w, t)
        self.halls.kernel.agenda.at(until, partial(self._end_long_queue, hs, held))
        return hs.hall.hall_id, {"factor": float(factor), "paused_windows": sorted(w.window_id for w in held)}

    def _end_long_queue(self, hs: HallSim, held: list[WindowSim], t: float) -> None:
        hs.boost = 1.0
        self.halls.rebuild_weights()
        for w in held:
            self.halls.release(hs, w, t)

    def _node_offline(self, t: float, until: float, target: str | None) -> tuple[str, dict[str, Any]]:
        node_id = target or self.rng.choice(sorted(self.video.nodes))
        if node_id not in self.video.nodes:
            raise ValueError(f"unknown video node {node_id!r}")
        self.video.take_offline(node_id, until)
        return node_id, {"cameras": len(self.video.nodes[node_id].cameras)}

    def _bad_review_burst(
        self, t: float, until: float, target: str | None, count: int = 12, staff_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        staff_id = staff_id or (target if target and target.startswith("ST") else None)
        if staff_id is not None:
            hs, window = self._staff(staff_id, t)
            slots = [(window, staff_id)]
            chosen = staff_id
        else:
            hs = self._hall(target, t)
            slots = [_with_staff(hs, w) for w in hs.windows if w.staffed] or [_with_staff(hs, w) for w in hs.windows]
            chosen = hs.hall.hall_id
        for at in sorted(self.rng.uniform(t, until) for _ in range(count)):
            w, staff = self.rng.choice(slots)
            served = self.reviews.staged(hs.hall.hall_id, hs.hall.city_code, hs.source, w.window_id, staff)
            level = "dissatisfied" if self.rng.random() < 0.6 else "very_dissatisfied"
            self.reviews.schedule(served, at, level)
        return chosen, {"hall_id": hs.hall.hall_id, "count": count}

    def _evaluation_brushing(
        self, t: float, until: float, target: str | None, count: int = 40, device_id: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        hs = self._hall(target, t)
        w, staff = _with_staff(hs, self.rng.choice([w for w in hs.windows if w.staffed] or hs.windows))
        device = device_id or f"PAD-{w.window_id}"
        step = (until - t) / max(count, 1)
        for index in range(count):
            # Someone tapping 非常满意 on one pad every few seconds, each time as another "citizen".
            at = t + index * step + self.rng.uniform(0, step * 0.5)
            served = self.reviews.staged(hs.hall.hall_id, hs.hall.city_code, hs.source, w.window_id, staff)
            self.reviews.schedule(served, at, "very_satisfied", device_id=device)
        return hs.hall.hall_id, {"device_id": device, "count": count}

    # -- targets -------------------------------------------------------------------------

    def _hall(self, hall_id: str | None, t: float) -> HallSim:
        if hall_id is not None:
            hs = self.halls.halls.get(hall_id)
            if hs is None or not hs.windows:
                raise ValueError(f"unknown hall {hall_id!r} (or it has no windows)")
            return hs
        # By default the busiest hall open right now, where an anomaly shows most.
        candidates = self.halls.open_now(t) or [h for h in self.halls.halls.values() if h.windows]
        if not candidates:
            raise ValueError("the registry has no hall with windows")
        return max(candidates, key=lambda h: (len(h.windows), h.hall.hall_id))

    def _staff(self, staff_id: str, t: float) -> tuple[HallSim, WindowSim]:
        found = self.halls.staff_window(staff_id)
        if found is not None:
            return found
        hall_id = staff_hall_id(staff_id)
        hs = self.halls.halls.get(hall_id or "")
        if hs is None or not hs.windows or staff_id not in hs.staff_pool:
            raise ValueError(f"unknown staff member {staff_id!r}")
        return hs, hs.windows[0]


def _with_staff(hs: HallSim, w: WindowSim) -> tuple[WindowSim, str]:
    return w, w.staff_id or hs.staff_pool[hs.windows.index(w) % len(hs.staff_pool)]


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)
