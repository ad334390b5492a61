"""Quality checks of the national 好差评 upload (上报数据质检): what the national platform counts as a failed record.

Pure functions over records as read from storage (plain dicts with the field names of `streams.national.records`).
Every failing record gets every reason that applies, each as a code with an English and a Chinese text, so a city
fixes all of a record's faults in one pass. Fields and code lists are judged by the upload models, which take their
lists from the stream models; the other checks are the ones only the whole set can answer: duplicates, timeliness,
and whether a case's steps agree with each other and with the evaluation that opened the case.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from streams.models.evaluation import BAD_LEVELS, OFFLINE_CHANNELS
from streams.national.records import MODELS, CaseStepRecord, EvaluationRecord, RecordKind

ReasonCode = Literal[
    "missing_field",
    "not_in_code_list",
    "invalid_value",
    "duplicate",
    "late",
    "case_without_evaluation",
    "case_on_good_review",
    "case_not_created",
    "step_out_of_order",
    "step_after_close",
    "closed_without_rectification",
    "case_no_mismatch",
]

#: How long after it happened a record may reach the province and still count as on time. The national platform
#: expects evaluations and case steps in near real time; three days let a hall system that was down over a weekend
#: catch up before its records count as late. A parameter of `check_set`, and of `govpulse national export`.
DEFAULT_MAX_DELAY = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a record fails, as a code and as text for people in both languages."""

    code: ReasonCode
    detail: str
    detail_zh: str

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.code, "detail": self.detail, "detail_zh": self.detail_zh}


@dataclass(slots=True)
class Checked:
    """One record of the set and its verdict: `record` is the validated shape when its fields pass."""

    kind: RecordKind
    raw: Mapping[str, Any]
    record: EvaluationRecord | CaseStepRecord | None = None
    reasons: list[Reason] = field(default_factory=list)

    @property
    def record_id(self) -> str:
        return str(self.raw.get("record_id") or "")

    @property
    def passed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class History:
    """What storage holds beyond the period's set and the checks of a case need.

    `evaluation_levels`: the level of each handled case's evaluation, by case number. `earlier_steps`: per case id,
    the (step, occurred_at) of the case's steps that are not in the set (a case opened last month has its
    `case_created` there).
    """

    evaluation_levels: Mapping[str, str] = field(default_factory=dict)
    earlier_steps: Mapping[str, Sequence[tuple[str, datetime]]] = field(default_factory=dict)


# -- one record ---------------------------------------------------------------------------------------------------


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def field_reasons(
    kind: RecordKind, raw: Mapping[str, Any]
) -> tuple[EvaluationRecord | CaseStepRecord | None, list[Reason]]:
    """The record in its upload shape, or every field that is missing, outside its code list or malformed."""
    reasons: list[Reason] = []
    record: EvaluationRecord | CaseStepRecord | None = None
    try:
        record = MODELS[kind].model_validate({**raw, "kind": kind})
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = ".".join(str(part) for part in error["loc"]) or "record"
            if error["type"] == "missing" or _empty(error.get("input")):
                reasons.append(Reason("missing_field", f"{name} is required", f"必填字段 {name} 为空"))
            elif error["type"] in ("literal_error", "union_tag_invalid"):
                reasons.append(
                    Reason(
                        "not_in_code_list",
                        f"{name}: {error.get('input')!r} is not in its code list",
                        f"{name} 的值 {error.get('input')!r} 不在代码表中",
                    )
                )
            else:
                reasons.append(Reason("invalid_value", f"{name}: {error['msg']}", f"{name} 格式不正确：{error['msg']}"))
    channel = raw.get("channel")
    if kind == "evaluation" and channel in OFFLINE_CHANNELS and _empty(raw.get("hall_id")):
        reasons.append(
            Reason(
                "missing_field", f"hall_id is required for channel {channel}", f"渠道 {channel} 的评价须填写 hall_id"
            )
        )
    return (record if not reasons else None), reasons


def timeliness_reason(occurred_at: Any, reported_at: Any, max_delay: timedelta = DEFAULT_MAX_DELAY) -> Reason | None:
    """A record that reached the province more than `max_delay` after it happened is late."""
    if not isinstance(occurred_at, datetime) or not isinstance(reported_at, datetime):
        return None  # a missing or malformed time is already a field reason
    delay = reported_at - occurred_at
    if delay <= max_delay:
        return None
    days = delay.total_seconds() / 86400
    limit = max_delay.total_seconds() / 86400
    return Reason(
        "late",
        f"reported {days:.1f} days after it occurred (limit {limit:g})",
        f"发生后 {days:.1f} 天才上报（时限 {limit:g} 天）",
    )


# -- the whole set ------------------------------------------------------------------------------------------------


def _duplicate_key(checked: Checked) -> tuple[Any, ...] | None:
    raw = checked.raw
    if checked.kind == "evaluation":
        # One handled case gets one evaluation: the national count is per 办件.
        return ("evaluation", raw.get("case_no")) if not _empty(raw.get("case_no")) else None
    if _empty(raw.get("case_id")) or _empty(raw.get("step")):
        return None
    return ("case_step", raw.get("case_id"), raw.get("step"), raw.get("occurred_at"))


def mark_duplicates(records: Sequence[Checked]) -> None:
    """A record id seen before, an evaluation of a handled case already evaluated, or a case step already in the set
    (same case, step and time): the later one fails, the first stands."""
    seen_ids: dict[str, int] = {}
    seen_keys: dict[tuple[Any, ...], str] = {}
    for checked in records:
        rid = checked.record_id
        if rid and rid in seen_ids:
            checked.reasons.append(
                Reason("duplicate", f"record id {rid} appears more than once", f"记录编号 {rid} 重复出现")
            )
            continue
        if rid:
            seen_ids[rid] = 1
        key = _duplicate_key(checked)
        if key is None:
            continue
        first = seen_keys.get(key)
        if first is not None:
            what = "evaluation of the same handled case" if checked.kind == "evaluation" else "the same case step"
            what_zh = "同一办件的重复评价" if checked.kind == "evaluation" else "重复的整改环节"
            checked.reasons.append(Reason("duplicate", f"{what} as {first}", f"{what_zh}（与 {first} 相同）"))
        else:
            seen_keys[key] = rid


#: Where each step may come in a case's life; steps of one rank may come in any order among themselves.
_STEP_RANK = {
    "case_created": 0,
    "case_assigned": 1,
    "case_transferred": 1,
    "case_verified": 1,
    "case_rectified": 2,
    "case_appealed": 2,
    "case_reviewed": 2,
    "case_revisited": 3,
    "case_closed": 4,
}


def mark_case_inconsistencies(records: Sequence[Checked], history: History) -> None:
    """Case steps that disagree with their evaluation or with the other steps of their case."""
    levels = dict(history.evaluation_levels)
    for checked in records:
        if checked.kind == "evaluation" and not _empty(checked.raw.get("case_no")):
            levels[str(checked.raw["case_no"])] = str(checked.raw.get("level"))
    by_case: dict[str, list[Checked]] = {}
    for checked in records:
        if checked.kind == "case_step" and not _empty(checked.raw.get("case_id")):
            by_case.setdefault(str(checked.raw["case_id"]), []).append(checked)
    for case_id, steps in by_case.items():
        _check_case(case_id, steps, history.earlier_steps.get(case_id, ()), levels)


def _check_case(
    case_id: str, steps: list[Checked], earlier: Sequence[tuple[str, datetime]], levels: Mapping[str, str]
) -> None:
    case_nos = {str(s.raw.get("case_no")) for s in steps if not _empty(s.raw.get("case_no"))}
    timeline: list[tuple[datetime, str]] = [(at, step) for step, at in earlier]
    timeline += [
        (s.raw["occurred_at"], str(s.raw.get("step")))
        for s in steps
        if isinstance(s.raw.get("occurred_at"), datetime) and not _empty(s.raw.get("step"))
    ]
    created = [at for at, step in timeline if step == "case_created"]
    rectified = [at for at, step in timeline if step == "case_rectified"]
    closed = [at for at, step in timeline if step == "case_closed"]
    for s in steps:
        step, at, case_no = s.raw.get("step"), s.raw.get("occurred_at"), s.raw.get("case_no")
        if len(case_nos) > 1:
            s.reasons.append(
                Reason(
                    "case_no_mismatch",
                    f"case {case_id} names several handled cases: {', '.join(sorted(case_nos))}",
                    f"工单 {case_id} 的各环节办件编号不一致",
                )
            )
        if not _empty(case_no):
            level = levels.get(str(case_no))
            if level is None:
                s.reasons.append(
                    Reason(
                        "case_without_evaluation",
                        f"no evaluation of handled case {case_no} in the set or in storage",
                        f"找不到办件 {case_no} 的评价",
                    )
                )
            elif level not in BAD_LEVELS:
                s.reasons.append(
                    Reason(
                        "case_on_good_review",
                        f"the evaluation of {case_no} is {level}, not a bad review",
                        f"办件 {case_no} 的评价为 {level}，不是差评",
                    )
                )
        if not isinstance(at, datetime) or _empty(step):
            continue
        if not created:
            s.reasons.append(
                Reason("case_not_created", f"case {case_id} has no case_created step", f"工单 {case_id} 缺少创建环节")
            )
        elif step != "case_created" and at < min(created):
            s.reasons.append(
                Reason("step_out_of_order", f"{step} comes before the case was created", f"{step} 早于工单创建时间")
            )
        rank = _STEP_RANK.get(str(step), len(_STEP_RANK))
        # A step after the close is its own reason below; here, a step that comes after one of a later stage.
        earlier_higher = [
            other
            for when, other in timeline
            if when < at and other != "case_closed" and _STEP_RANK.get(other, -1) > rank
        ]
        if earlier_higher and step != "case_closed":
            s.reasons.append(
                Reason(
                    "step_out_of_order",
                    f"{step} comes after {earlier_higher[0]}",
                    f"{step} 出现在 {earlier_higher[0]} 之后",
                )
            )
        if step != "case_closed" and closed and at > min(closed):
            s.reasons.append(
                Reason("step_after_close", f"{step} comes after the case was closed", f"{step} 在工单办结之后")
            )
        if step == "case_closed" and not any(when <= at for when in rectified):
            s.reasons.append(
                Reason(
                    "closed_without_rectification",
                    f"case {case_id} is closed without a case_rectified step",
                    f"工单 {case_id} 未经整改即办结",
                )
            )


def check_set(
    evaluations: Sequence[Mapping[str, Any]],
    case_steps: Sequence[Mapping[str, Any]],
    history: History | None = None,
    max_delay: timedelta = DEFAULT_MAX_DELAY,
) -> list[Checked]:
    """Every record of the period's set with all its reasons; evaluations first, then case steps, in input order."""
    history = history or History()
    checked = [Checked("evaluation", raw) for raw in evaluations] + [Checked("case_step", raw) for raw in case_steps]
    for c in checked:
        c.record, c.reasons = field_reasons(c.kind, c.raw)
        late = timeliness_reason(c.raw.get("occurred_at"), c.raw.get("reported_at"), max_delay)
        if late is not None:
            c.reasons.append(late)
    mark_duplicates(checked)
    mark_case_inconsistencies(checked, history)
    return checked
