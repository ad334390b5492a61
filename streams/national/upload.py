"""The upload set as files: passing records as JSON lines, the failures beside them, and the pass rates.

The national interface is not reachable from the province's network here, so the set is handed over as files in
the documented format (docs/schemas/national_upload.v1.schema.json, one record per line):

- `evaluations.jsonl`, `case_steps.jsonl`: the records that pass every check;
- `failures.jsonl`: one line per failing record: its id, kind, city, department and every reason;
- `summary.json`: the period, the counts, and the pass rate (质检通过率) per city and per department.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from streams.national.checks import Checked
from streams.national.records import UPLOAD_VERSION
from streams.periods import Period

FILES = {"evaluation": "evaluations.jsonl", "case_step": "case_steps.jsonl"}
FAILURES = "failures.jsonl"
SUMMARY = "summary.json"


@dataclass(frozen=True, slots=True)
class PassRate:
    """How many records of one city or department the set holds, and how many pass."""

    key: str
    records: int
    passed: int

    @property
    def rate(self) -> float | None:
        return self.passed / self.records if self.records else None

    def as_dict(self, name: str) -> dict[str, Any]:
        rate = self.rate
        return {
            name: self.key,
            "records": self.records,
            "passed": self.passed,
            "pass_rate": None if rate is None else round(rate, 4),
        }


def pass_rates(checked: Sequence[Checked], field: str) -> list[PassRate]:
    """Pass rate per value of `field` (city_code or dept_id), by key; a record without it counts under ''."""
    totals: Counter[str] = Counter()
    passed: Counter[str] = Counter()
    for c in checked:
        key = str(c.raw.get(field) or "")
        totals[key] += 1
        passed[key] += c.passed
    return [PassRate(key, totals[key], passed[key]) for key in sorted(totals)]


def summary(checked: Sequence[Checked], period: Period, generated_at: datetime) -> dict[str, Any]:
    overall = PassRate("all", len(checked), sum(c.passed for c in checked))
    reasons = Counter(r.code for c in checked for r in c.reasons)
    return {
        "version": UPLOAD_VERSION,
        "period": period.label,
        "from": period.first_day.isoformat(),
        "to": period.last_day.isoformat(),
        "generated_at": generated_at.isoformat(),
        "records": overall.records,
        "passed": overall.passed,
        "failed": overall.records - overall.passed,
        "pass_rate": overall.as_dict("scope")["pass_rate"],
        "by_kind": {kind: sum(1 for c in checked if c.kind == kind) for kind in FILES},
        "failures_by_reason": dict(sorted(reasons.items())),
        "by_city": [rate.as_dict("city_code") for rate in pass_rates(checked, "city_code")],
        "by_dept": [rate.as_dict("dept_id") for rate in pass_rates(checked, "dept_id")],
    }


def failure_line(c: Checked) -> dict[str, Any]:
    return {
        "record_id": c.record_id,
        "kind": c.kind,
        "city_code": c.raw.get("city_code"),
        "dept_id": c.raw.get("dept_id"),
        "reasons": [r.as_dict() for r in c.reasons],
    }


def write_set(folder: Path, checked: Sequence[Checked], period: Period, generated_at: datetime) -> dict[str, Any]:
    """Write the files (replacing a previous export of the folder) and return the summary written."""
    folder.mkdir(parents=True, exist_ok=True)
    handles = {kind: (folder / name).open("w", encoding="utf-8") for kind, name in FILES.items()}
    try:
        with (folder / FAILURES).open("w", encoding="utf-8") as failures:
            for c in checked:
                if c.passed and c.record is not None:
                    handles[c.kind].write(c.record.model_dump_json(exclude_none=True) + "\n")
                else:
                    failures.write(json.dumps(failure_line(c), ensure_ascii=False) + "\n")
    finally:
        for handle in handles.values():
            handle.close()
    result = summary(checked, period, generated_at)
    (folder / SUMMARY).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result
