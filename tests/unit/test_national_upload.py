"""Quality checks of the national 好差评 upload, and its files: list of records in, verdicts and files out."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agents.cli.national import print_summary
from streams.national.checks import Checked, History, check_set, field_reasons, timeliness_reason
from streams.national.records import RecordKind
from streams.national.upload import pass_rates, write_set
from streams.periods import parse_period
from streams.schema_export import file_schemas

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "schemas" / "national_upload.v1.schema.json"
T0 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def evaluation(n: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "record_id": f"ev-{n}",
        "city_code": 440300,
        "county_code": 440304,
        "dept_id": "D440300-01",
        "case_no": f"BJ-{n}",
        "item_id": "I001",
        "level": "satisfied",
        "channel": "yueshengshi",
        "mode": "active",
        "reason_tags": [],
        "comment": "",
        "evaluator_hash": "a" * 64,
        "occurred_at": T0,
        "reported_at": T0 + timedelta(minutes=1),
    }
    return record | changes


def step(case: str, kind: str, minutes: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "record_id": f"cs-{case}-{kind}-{minutes}",
        "city_code": 440300,
        "dept_id": "D440300-01",
        "case_id": case,
        "case_no": "BJ-1",
        "step": kind,
        "occurred_at": T0 + timedelta(minutes=minutes),
        "reported_at": T0 + timedelta(minutes=minutes + 1),
    }
    if kind in ("case_assigned", "case_transferred"):
        record["to_dept_id"] = "D440300-02"
    return record | changes


def codes(checked: Checked) -> list[str]:
    return [r.code for r in checked.reasons]


BAD = evaluation(1, level="very_dissatisfied")
WHOLE_CASE = [
    step("C1", "case_created", 10),
    step("C1", "case_assigned", 20),
    step("C1", "case_verified", 30),
    step("C1", "case_rectified", 40),
    step("C1", "case_revisited", 50),
    step("C1", "case_closed", 60),
]


def test_a_clean_set_passes() -> None:
    """A bad review and its case with every step in order pass every check."""
    checked = check_set([BAD, evaluation(2)], WHOLE_CASE)
    assert [codes(c) for c in checked] == [[]] * 8
    assert all(c.record is not None for c in checked)


def test_missing_fields_are_each_named() -> None:
    """Every required field that is absent or empty is its own reason, in English and Chinese."""
    raw = evaluation(1, dept_id="", evaluator_hash=None)
    del raw["item_id"]
    record, reasons = field_reasons("evaluation", raw)
    assert record is None
    assert sorted(r.detail for r in reasons) == [
        "dept_id is required",
        "evaluator_hash is required",
        "item_id is required",
    ]
    assert {r.code for r in reasons} == {"missing_field"}
    assert all("必填" in r.detail_zh for r in reasons)


def test_offline_channel_needs_its_hall() -> None:
    """An evaluation given on a hall pad must name the hall, as the stream model requires."""
    _, reasons = field_reasons("evaluation", evaluation(1, channel="hall_pad"))
    assert [(r.code, r.detail) for r in reasons] == [("missing_field", "hall_id is required for channel hall_pad")]
    assert field_reasons("evaluation", evaluation(1, channel="hall_pad", hall_id="H440304001"))[1] == []


@pytest.mark.parametrize(
    ("kind", "changes", "name"),
    [
        ("evaluation", {"level": "great"}, "level"),
        ("evaluation", {"channel": "fax"}, "channel"),
        ("evaluation", {"mode": "automatic"}, "mode"),
        ("case_step", {"step": "case_reopened"}, "step"),
        ("case_step", {"direction": "sideways"}, "direction"),
    ],
)
def test_values_outside_their_code_list(kind: RecordKind, changes: dict[str, Any], name: str) -> None:
    """A level, channel, mode, step or direction not in the project's code lists fails as not_in_code_list."""
    raw = evaluation(1, **changes) if kind == "evaluation" else step("C1", "case_created", 0, **changes)
    _, reasons = field_reasons(kind, raw)
    assert [r.code for r in reasons] == ["not_in_code_list"]
    assert reasons[0].detail.startswith(f"{name}: ")
    assert "代码表" in reasons[0].detail_zh


def test_malformed_values() -> None:
    """A value of the right field but the wrong form (an evaluator in clear) fails as invalid_value."""
    _, reasons = field_reasons("evaluation", evaluation(1, evaluator_hash="13800138000"))
    assert [r.code for r in reasons] == ["invalid_value"]


def test_duplicates_fail_the_later_record() -> None:
    """The same record id twice, a handled case evaluated twice, or a case step sent twice: the first stands."""
    same_id = evaluation(2, case_no="BJ-9")
    same_case_no = evaluation(3, case_no="BJ-2")
    checked = check_set(
        [evaluation(2), same_id, same_case_no],
        [*WHOLE_CASE[:2], WHOLE_CASE[1] | {"record_id": "x"}],
        History(evaluation_levels={"BJ-1": "dissatisfied"}),
    )
    assert [codes(c) for c in checked] == [[], ["duplicate"], ["duplicate"], [], [], ["duplicate"]]
    assert "ev-2" in checked[1].reasons[0].detail


def test_timeliness() -> None:
    """A record reported later than the allowed delay after it happened fails as late; the delay is a parameter."""
    assert timeliness_reason(T0, T0 + timedelta(days=3)) is None
    late = timeliness_reason(T0, T0 + timedelta(days=4))
    assert late is not None and late.code == "late" and "4.0 days" in late.detail
    checked = check_set([evaluation(1, reported_at=T0 + timedelta(days=2))], [], max_delay=timedelta(days=1))
    assert codes(checked[0]) == ["late"]


def test_case_must_point_at_a_bad_review() -> None:
    """A case whose handled case has no evaluation anywhere, or a good one, fails; one found in storage passes."""
    alone = check_set([], [step("C1", "case_created", 0)])
    assert codes(alone[0]) == ["case_without_evaluation"]
    good = check_set([evaluation(1)], [step("C1", "case_created", 0)])
    assert codes(good[1]) == ["case_on_good_review"]
    stored = check_set([], [step("C1", "case_created", 0)], History(evaluation_levels={"BJ-1": "dissatisfied"}))
    assert codes(stored[0]) == []


def test_steps_in_order() -> None:
    """A step before its case was created, a case never created, or a step after the close fail."""
    checked = check_set([BAD], [step("C1", "case_created", 10), step("C1", "case_assigned", 5)])
    assert codes(checked[2]) == ["step_out_of_order"]
    assert codes(check_set([BAD], [step("C2", "case_verified", 5)])[1]) == ["case_not_created"]
    after_close = check_set([BAD], [*WHOLE_CASE, step("C1", "case_revisited", 70)])
    assert codes(after_close[-1]) == ["step_after_close"]
    rectified_after_revisit = check_set(
        [BAD], [step("C1", "case_created", 0), step("C1", "case_revisited", 5), step("C1", "case_rectified", 6)]
    )
    assert codes(rectified_after_revisit[-1]) == ["step_out_of_order"]


def test_earlier_steps_come_from_history() -> None:
    """A case created last month is judged with its stored steps: its close this month passes."""
    history = History(
        evaluation_levels={"BJ-1": "dissatisfied"},
        earlier_steps={"C1": [("case_created", T0 - timedelta(days=20)), ("case_rectified", T0 - timedelta(days=5))]},
    )
    assert codes(check_set([], [step("C1", "case_closed", 0)], history)[0]) == []


def test_closed_case_needs_its_rectification() -> None:
    """A case closed without a case_rectified step fails."""
    checked = check_set([BAD], [step("C1", "case_created", 0), step("C1", "case_closed", 10)])
    assert codes(checked[2]) == ["closed_without_rectification"]
    assert "整改" in checked[2].reasons[0].detail_zh


def test_every_reason_of_a_record() -> None:
    """A record with several faults carries all of them."""
    raw = step("C9", "case_closed", 0, case_no="BJ-404", dept_id="", reported_at=T0 + timedelta(days=9))
    assert set(codes(check_set([], [raw])[0])) == {
        "missing_field",
        "late",
        "case_without_evaluation",
        "case_not_created",
        "closed_without_rectification",
    }


def test_case_no_must_agree_across_steps() -> None:
    """Steps of one case that name different handled cases fail."""
    checked = check_set(
        [BAD, evaluation(2, level="dissatisfied")],
        [step("C1", "case_created", 0), step("C1", "case_assigned", 5, case_no="BJ-2")],
    )
    assert "case_no_mismatch" in codes(checked[2]) and "case_no_mismatch" in codes(checked[3])


def test_pass_rate_per_city_and_department() -> None:
    """The pass rate counts records per city and per department."""
    checked = check_set(
        [evaluation(1), evaluation(2, level="x"), evaluation(3, city_code=440400, dept_id="D440400-01")], []
    )
    by_city = {r.key: (r.passed, r.records) for r in pass_rates(checked, "city_code")}
    assert by_city == {"440300": (1, 2), "440400": (1, 1)}
    by_dept = {r.key: r.rate for r in pass_rates(checked, "dept_id")}
    assert by_dept == {"D440300-01": 0.5, "D440400-01": 1.0}


def test_written_files_follow_the_schema(tmp_path: Path) -> None:
    """Passing records are written one per line and each validates against the published JSON Schema; the failures
    file and the summary list what failed and why."""
    checked = check_set(
        [
            BAD,
            evaluation(2, channel="hall_pad", hall_id="H440304001", window_id="W1", reason_tags=["快"]),
            evaluation(3, level="x"),
        ],
        WHOLE_CASE,
    )
    result = write_set(tmp_path, checked, parse_period("2026-11"), T0)
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    lines = [
        json.loads(line)
        for name in ("evaluations.jsonl", "case_steps.jsonl")
        for line in (tmp_path / name).read_text(encoding="utf-8").splitlines()
    ]
    assert len(lines) == 8
    for line in lines:
        validator.validate(line)
    failures = [json.loads(line) for line in (tmp_path / "failures.jsonl").read_text(encoding="utf-8").splitlines()]
    assert failures == [
        {
            "record_id": "ev-3",
            "kind": "evaluation",
            "city_code": 440300,
            "dept_id": "D440300-01",
            "reasons": [
                {
                    "reason": "not_in_code_list",
                    "detail": "level: 'x' is not in its code list",
                    "detail_zh": "level 的值 'x' 不在代码表中",
                }
            ],
        }
    ]
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8")) == result
    assert (result["records"], result["passed"], result["pass_rate"]) == (9, 8, 0.8889)
    assert result["by_city"] == [{"city_code": "440300", "records": 9, "passed": 8, "pass_rate": 0.8889}]
    assert result["failures_by_reason"] == {"not_in_code_list": 1}


def test_schema_rejects_a_record_outside_the_code_list() -> None:
    """The schema itself holds the code lists, so a receiver can check a file without govpulse."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    record = check_set([BAD], [])[0].record
    assert record is not None
    line = json.loads(record.model_dump_json())
    jsonschema.validate(line, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(line | {"level": "great"}, schema)


def test_published_schema_is_the_generated_one() -> None:
    """docs/schemas holds what `govpulse schema export` writes for the upload record, so the two cannot drift."""
    [(name, schema)] = file_schemas().items()
    assert name == SCHEMA.name
    assert json.loads(SCHEMA.read_text(encoding="utf-8")) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_summary_is_printed_per_city_and_department(tmp_path: Path) -> None:
    """The command prints the overall pass rate, the failures by reason and a line per city and department."""
    checked = check_set([evaluation(1), evaluation(2, level="x")], [])
    out = io.StringIO()
    print_summary(write_set(tmp_path, checked, parse_period("2026-11"), T0), out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "2026-11: 2 records, 1 passed, 1 failed, pass rate 50.0%"
    assert "  not_in_code_list               1" in lines
    assert any(line.split() == ["440300", "1/2", "50.0%"] for line in lines)
    assert any(line.split() == ["D440300-01", "1/2", "50.0%"] for line in lines)
