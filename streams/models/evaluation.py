"""好差评: citizens' evaluations, and the bad-review cases they open."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from streams.models.common import EventBase, Ident, ShortText

#: The five national levels, best first. 差评 (a bad review) is the last two.
EvaluationLevel = Literal["very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied"]
LEVEL_LABELS_ZH = {
    "very_satisfied": "非常满意",
    "satisfied": "满意",
    "basic": "基本满意",
    "dissatisfied": "不满意",
    "very_dissatisfied": "非常不满意",
}
BAD_LEVELS = frozenset({"dissatisfied", "very_dissatisfied"})

Channel = Literal[
    "hall_pad",  # 窗口评价器
    "kiosk",  # 自助终端
    "pc_web",  # 网上办事大厅
    "yueshengshi",  # 粤省事
    "yueshangtong",  # 粤商通
    "hotline_12345",
    "sms",
    "app",
]
#: Channels inside a hall: the evaluation must name the hall it was given in.
OFFLINE_CHANNELS = frozenset({"hall_pad", "kiosk"})
#: active: the citizen evaluated; default: generated when the citizen did not evaluate in time.
EvaluationMode = Literal["active", "default"]
#: Which way a case moves along the department hierarchy when it is transferred.
TransferDirection = Literal["up", "down"]
#: The reason tags and free-text comment a citizen gives, bounded as the wire takes them.
ReasonTags = list[Annotated[str, Field(max_length=32)]]
Comment = Annotated[str, Field(max_length=500)]

Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class Evaluation(EventBase):
    """One evaluation of one handled case (办件).

    The evaluator is only ever a salted SHA-256 hex digest: a phone number or
    ID number in clear fails the pattern and is rejected (PIPL).
    """

    type: Literal["evaluation"] = "evaluation"
    case_no: Ident
    item_id: Ident
    dept_id: Ident
    level: EvaluationLevel
    channel: Channel
    mode: EvaluationMode = Field(
        description="active: the citizen evaluated; default: generated when the citizen did not evaluate in time."
    )
    hall_id: Ident | None = None
    window_id: Ident | None = None
    staff_id: Ident | None = None
    device_id: Ident | None = None
    reason_tags: ReasonTags = Field(default_factory=list, max_length=10)
    comment: Comment = ""
    evaluator_hash: Sha256Hex

    @model_validator(mode="after")
    def _hall_for_offline(self) -> Evaluation:
        if self.channel in OFFLINE_CHANNELS and self.hall_id is None:
            raise ValueError(f"hall_id is required for channel {self.channel}")
        return self


CaseStep = Literal[
    "case_created",
    "case_assigned",
    "case_transferred",
    "case_verified",  # 核实
    "case_rectified",  # 整改
    "case_revisited",  # 回访
    "case_appealed",  # 申诉
    "case_reviewed",  # 复核
    "case_closed",
]


class CaseEvent(EventBase):
    """One step of a bad-review case (差评工单), with the deadline of the next step."""

    type: CaseStep
    case_id: Ident
    case_no: Ident = Field(description="The handled case (办件编号) whose bad review opened this case.")
    dept_id: Ident
    to_dept_id: Ident | None = None
    direction: TransferDirection | None = None
    deadline_working_days: int | None = Field(default=None, ge=0, le=60)
    outcome: ShortText | None = None

    @model_validator(mode="after")
    def _target_for_moves(self) -> CaseEvent:
        if self.type in ("case_assigned", "case_transferred") and self.to_dept_id is None:
            raise ValueError(f"to_dept_id is required for {self.type}")
        if self.type == "case_transferred" and self.direction is None:
            raise ValueError("direction is required for case_transferred")
        return self
