"""好差评 on the citizens' side: an evaluation after each service, and the
bad-review case (差评工单) that a bad evaluation opens, step by step."""

from __future__ import annotations

import hashlib
import math
import random
from functools import partial

from streams.simulator.catalog import Catalog
from streams.simulator.hall_state import Served
from streams.simulator.kernel import Fields, Kernel

LEVELS = ("very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied")
#: 非常满意 88%, 满意 8%, 基本满意 2.5%, 不满意 1%, 非常不满意 0.5%.
LEVEL_WEIGHTS = (88.0, 8.0, 2.5, 1.0, 0.5)
BAD = frozenset({"dissatisfied", "very_dissatisfied"})
P_HALL_PAD = 0.60
#: Of all services: evaluated later online; what is left gets a default evaluation.
P_ONLINE = 0.30
ONLINE_CHANNELS = ("yueshengshi", "yueshangtong", "pc_web", "sms", "hotline_12345", "kiosk")
ONLINE_WEIGHTS = (40.0, 15.0, 15.0, 12.0, 6.0, 12.0)
#: Where the platform files an evaluation it generates on the citizen's behalf.
DEFAULT_CHANNEL = "pc_web"
GOOD_TAGS = ("服务热情", "办事高效", "一次办好", "指引清晰", "环境整洁")
BAD_TAGS = (
    "等候时间长",
    "服务态度差",
    "办事流程繁琐",
    "材料要求多",
    "一次性告知不到位",
    "系统故障",
    "多次跑动",
    "业务不熟练",
)
BAD_COMMENTS = (
    "排队等了一个多小时才叫到号",
    "窗口人员态度冷淡，问了也不解释",
    "材料要求前后不一致，来回跑了三次",
    "系统老是卡，办了很久",
    "工作人员对业务不熟悉",
    "没有一次性告知需要的材料",
    "叫号后窗口迟迟不受理",
    "中午前就不给取号了",
)
BASIC_COMMENTS = ("还可以，就是等得有点久", "流程可以再简化", "")
P_TRANSFER_UP = 0.08
P_SENT_BACK_DOWN = 0.6
P_SLOW_CASE = 0.1
VERDICTS = ("情况属实", "部分属实", "情况不属实")
VERDICT_WEIGHTS = (70.0, 20.0, 10.0)
RECTIFICATIONS = ("已约谈窗口人员并开展业务培训", "已优化取号与叫号安排", "已完善一次性告知清单", "已增开高峰时段窗口")
REVISITS = ("群众表示满意", "群众表示基本满意", "群众仍不满意，已解释说明")


class Reviews:
    """Evaluations and bad-review cases, scheduled on the shared agenda."""

    def __init__(
        self,
        kernel: Kernel,
        rng: random.Random,
        catalog: Catalog,
        *,
        salt: str,
        default_level: str,
        default_after_s: float,
        case_step_s: tuple[float, float],
    ) -> None:
        if default_level not in LEVELS:
            raise ValueError(f"default_level must be one of {', '.join(LEVELS)}, got {default_level!r}")
        self.kernel = kernel
        self.rng = rng
        self.catalog = catalog
        self.salt = salt
        self.default_level = default_level
        self.default_after_s = default_after_s
        self.case_step_s = case_step_s
        self._cases = 0
        self._staged = 0

    # -- after a service -------------------------------------------------------------

    def on_completed(self, served: Served, t: float) -> None:
        rng, at = self.rng, self.kernel.agenda.at
        draw = rng.random()
        if draw < P_HALL_PAD:
            at(t + rng.uniform(5, 40), partial(self._evaluate, served, "hall_pad", "active", self._level(), None))
        elif draw < P_HALL_PAD + P_ONLINE:
            channel = rng.choices(ONLINE_CHANNELS, weights=ONLINE_WEIGHTS)[0]
            if channel == "kiosk":
                delay = rng.uniform(60, 600)
            else:
                delay = min(max(rng.lognormvariate(math.log(1200), 1.0), 120.0), 6 * 3600.0)
            at(t + delay, partial(self._evaluate, served, channel, "active", self._level(), None))
        else:
            # Real platforms wait days before a default evaluation; the simulator
            # shortens that so a demo of an hour shows some.
            delay = self.default_after_s * rng.uniform(0.9, 1.1)
            at(t + delay, partial(self._evaluate, served, DEFAULT_CHANNEL, "default", self.default_level, None))

    def _level(self) -> str:
        return self.rng.choices(LEVELS, weights=LEVEL_WEIGHTS)[0]

    def _evaluate(self, served: Served, channel: str, mode: str, level: str, device_id: str | None, t: float) -> None:
        rng = self.rng
        fields: Fields = {
            "type": "evaluation",
            "case_no": served.case_no,
            "item_id": served.item_id,
            "dept_id": served.dept_id,
            "level": level,
            "channel": channel,
            "mode": mode,
            "hall_id": served.hall_id,
        }
        if channel == "hall_pad":
            fields["window_id"] = served.window_id
            fields["staff_id"] = served.staff_id
            fields["device_id"] = device_id or f"PAD-{served.window_id}"
        elif channel == "kiosk":
            fields["device_id"] = device_id or f"KIOSK-{served.hall_id}-{rng.randint(1, 3)}"
        elif channel in ("yueshengshi", "yueshangtong"):
            fields["device_id"] = device_id or f"DEV{rng.getrandbits(48):012x}"
        tags, comment = self._feedback(level, mode)
        fields["reason_tags"] = tags
        fields["comment"] = comment
        fields["evaluator_hash"] = self._evaluator_hash(served.city_code)
        self.kernel.emitter.emit("evaluation", served.source, t, fields)
        if mode == "active" and level in BAD:
            self._open_case(served, t)

    def _feedback(self, level: str, mode: str) -> tuple[list[str], str]:
        rng = self.rng
        if mode == "default":
            return [], ""
        if level in BAD:
            tags = rng.sample(BAD_TAGS, rng.randint(1, 3))
            return tags, rng.choice(BAD_COMMENTS) if rng.random() < 0.8 else ""
        if level == "basic":
            return rng.sample(BAD_TAGS, 1) if rng.random() < 0.5 else [], rng.choice(BASIC_COMMENTS)
        return (rng.sample(GOOD_TAGS, rng.randint(1, 2)) if rng.random() < 0.3 else []), ""

    def _evaluator_hash(self, city_code: int) -> str:
        # A synthetic citizen id, only ever sent salted and hashed (PIPL).
        citizen = f"{city_code}{self.rng.getrandbits(48):012x}"
        return hashlib.sha256((self.salt + citizen).encode()).hexdigest()

    # -- scenarios -----------------------------------------------------------------------

    def staged(self, hall_id: str, city_code: int, source: str, window_id: str, staff_id: str) -> Served:
        """A service that never went through the queue, for scenario evaluations to point at."""
        self._staged += 1
        item_id, dept_id = self.catalog.draw(self.rng, city_code)
        case_no = f"{hall_id[1:]}-{self.kernel.emitter.run_id}-x{self._staged:05d}"
        return Served(hall_id, city_code, source, window_id, staff_id, item_id, dept_id, case_no)

    def schedule(self, served: Served, t: float, level: str, device_id: str | None = None) -> None:
        """One active hall-pad evaluation at `t`."""
        self.kernel.agenda.at(t, partial(self._evaluate, served, "hall_pad", "active", level, device_id))

    # -- bad-review cases ------------------------------------------------------------

    def _open_case(self, served: Served, t: float) -> None:
        rng = self.rng
        self._cases += 1
        case_id = f"CA-{self.kernel.emitter.run_id}-{self._cases:06d}"
        handler = served.dept_id
        supervisor = self.catalog.supervisor_for(handler)
        steps: list[Fields] = [
            _step("case_created", supervisor, deadline=1),
            _step("case_assigned", supervisor, to=handler, deadline=3),
        ]
        owner = handler
        parent = self.catalog.parent(handler)
        if parent is not None and rng.random() < P_TRANSFER_UP:
            # 不属本级事权: the city body hands the case up, and often gets it back.
            steps.append(_step("case_transferred", handler, to=parent, direction="up", deadline=2))
            if rng.random() < P_SENT_BACK_DOWN:
                steps.append(_step("case_transferred", parent, to=handler, direction="down", deadline=2))
            else:
                owner = parent
        verdict = rng.choices(VERDICTS, weights=VERDICT_WEIGHTS)[0]
        steps.append(_step("case_verified", owner, deadline=15, outcome=verdict))
        if verdict == "情况不属实":
            steps.append(_step("case_appealed", owner, deadline=5, outcome="申请复核：差评与事实不符"))
            upheld = rng.random() < 0.5
            steps.append(
                _step(
                    "case_reviewed",
                    supervisor,
                    deadline=1 if upheld else 15,
                    outcome="申诉成立，差评不计入考核" if upheld else "申诉不成立，需整改",
                )
            )
            if upheld:
                steps.append(_step("case_closed", supervisor, outcome="办结"))
                self._schedule_case(served, case_id, steps, t)
                return
        steps.append(_step("case_rectified", owner, deadline=5, outcome=rng.choice(RECTIFICATIONS)))
        steps.append(_step("case_revisited", owner, deadline=1, outcome=rng.choice(REVISITS)))
        steps.append(_step("case_closed", supervisor, outcome="办结"))
        self._schedule_case(served, case_id, steps, t)

    def _schedule_case(self, served: Served, case_id: str, steps: list[Fields], t: float) -> None:
        rng = self.rng
        slow_step = rng.randrange(1, len(steps)) if rng.random() < P_SLOW_CASE else -1
        at = t + rng.uniform(60, 900)
        for index, fields in enumerate(steps):
            if index:
                gap = rng.uniform(*self.case_step_s)
                at += gap * 8 if index == slow_step else gap
            fields = {"case_id": case_id, "case_no": served.case_no, **fields}
            self.kernel.agenda.at(at, partial(self._emit_case, served.source, fields))

    def _emit_case(self, source: str, fields: Fields, t: float) -> None:
        self.kernel.emitter.emit("case", source, t, fields)


def _step(
    kind: str,
    dept_id: str,
    *,
    to: str | None = None,
    direction: str | None = None,
    deadline: int | None = None,
    outcome: str | None = None,
) -> Fields:
    fields: Fields = {"type": kind, "dept_id": dept_id}
    if to is not None:
        fields["to_dept_id"] = to
    if direction is not None:
        fields["direction"] = direction
    if deadline is not None:
        fields["deadline_working_days"] = deadline
    if outcome is not None:
        fields["outcome"] = outcome
    return fields
