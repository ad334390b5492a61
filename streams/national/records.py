"""The records of the national 好差评 upload: one evaluation, or one step of a bad-review case.

Their fields and code lists are those of the stream models (`streams.models.evaluation`), so a value the
province accepts from a node and one it hands on are held to the same lists. Every record carries the time
it happened and the time it reached the province, which the timeliness check compares.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from streams.models.common import Ident, ShortText, UtcDatetime
from streams.models.evaluation import (
    CaseStep,
    Channel,
    Comment,
    EvaluationLevel,
    EvaluationMode,
    ReasonTags,
    Sha256Hex,
    TransferDirection,
)

#: Version of the upload file format; a change that removes or retypes a field bumps it.
UPLOAD_VERSION = 1

#: GB/T 2260 codes of a city or county: six digits.
AreaCode = Annotated[int, Field(ge=100000, le=999999)]

RecordKind = Literal["evaluation", "case_step"]


class _UploadBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    record_id: Ident = Field(description="The event id the province stored the record under.")
    city_code: AreaCode
    county_code: AreaCode | None = None
    dept_id: Ident
    occurred_at: UtcDatetime = Field(description="When it happened, UTC.")
    reported_at: UtcDatetime = Field(description="When it reached the province, UTC.")


class EvaluationRecord(_UploadBase):
    """One evaluation (评价) of one handled case (办件)."""

    kind: Literal["evaluation"] = "evaluation"
    case_no: Ident
    item_id: Ident
    level: EvaluationLevel
    channel: Channel
    mode: EvaluationMode
    hall_id: Ident | None = None
    window_id: Ident | None = None
    staff_id: Ident | None = None
    device_id: Ident | None = None
    reason_tags: ReasonTags = Field(default_factory=list, max_length=10)
    comment: Comment = ""
    evaluator_hash: Sha256Hex


class CaseStepRecord(_UploadBase):
    """One step of a bad-review case (差评整改), by the department that took it."""

    kind: Literal["case_step"] = "case_step"
    case_id: Ident
    case_no: Ident = Field(description="The handled case (办件编号) whose bad review opened the case.")
    step: CaseStep
    to_dept_id: Ident | None = None
    direction: TransferDirection | None = None
    deadline_working_days: int | None = Field(default=None, ge=0, le=60)
    deadline_at: UtcDatetime | None = None
    outcome: ShortText | None = None


UploadRecord = Annotated[EvaluationRecord | CaseStepRecord, Field(discriminator="kind")]
UPLOAD_RECORD = TypeAdapter(UploadRecord)
MODELS: dict[RecordKind, type[EvaluationRecord] | type[CaseStepRecord]] = {
    "evaluation": EvaluationRecord,
    "case_step": CaseStepRecord,
}


def upload_schema() -> dict:
    """The JSON Schema (draft 2020-12) of one line of an upload file."""
    schema = UPLOAD_RECORD.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "national_upload"
    schema["description"] = (
        "One record of the national 好差评 upload: an evaluation or a step of a bad-review case, one per line."
    )
    return schema
