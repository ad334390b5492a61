"""The national 好差评 upload set, read from what the real gateway, worker and chDB stored.

Every city but the shared one is held by other modules, so this one sends to 广州 (440100) under its own ids, for
its last city department, which no other test names: the pass rate of that department is this script's alone.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from agents.cli.national import export
from streams.periods import parse_period
from streams.workdays import SHANGHAI
from tests.integration.cities import SHARED_CITY
from tests.integration.helpers import eventually

pytestmark = pytest.mark.integration
SOURCE = f"node-{SHARED_CITY}"


async def _post(stack, stream: str, events: list[dict]) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{stack.base_url}/api/v1/ingest/{stream}",
            json={"source": SOURCE, "events": events},
            headers={"Authorization": f"Bearer {stack.demo_tokens[SOURCE]}"},
        ) as resp,
    ):
        assert resp.status == 202, await resp.text()
        return await resp.json()


async def test_export_checks_the_stored_set(stack, tmp_path: Path) -> None:
    """Four evaluations and five case steps stored through the stack: the export passes six, and lists a late
    evaluation, a second evaluation of one handled case and a case opened on a good review with their reasons."""
    dept = [d for d in stack.registry.departments() if d.city_code == SHARED_CITY][-1].dept_id
    item = next(i.item_id for i in stack.registry.items())
    run = f"nat{datetime.now(UTC).timestamp():.0f}"
    today = datetime.now(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    seq = iter(range(1, 100))

    def base(kind: str, days_ago: int, hhmm: str) -> dict:
        n = next(seq)
        h, m = (int(x) for x in hhmm.split(":"))
        at = today - timedelta(days=days_ago) + timedelta(hours=h, minutes=m)
        return {
            "event_id": f"{run}-{n}",
            "source": SOURCE,
            "seq": n,
            "occurred_at": at.astimezone(UTC).isoformat(),
            "sent_at": datetime.now(UTC).isoformat(),
            "type": kind,
            "dept_id": dept,
        }

    def evaluation(case_no: str, level: str, days_ago: int, hhmm: str) -> dict:
        return base("evaluation", days_ago, hhmm) | {
            "case_no": f"{run}-{case_no}",
            "item_id": item,
            "level": level,
            "channel": "yueshengshi",
            "mode": "active",
            "evaluator_hash": hashlib.sha256(f"{run}{case_no}".encode()).hexdigest(),
        }

    def step(case_id: str, case_no: str, kind: str, hhmm: str) -> dict:
        event = base(kind, 2, hhmm) | {"case_id": f"{run}-{case_id}", "case_no": f"{run}-{case_no}"}
        return event | ({"to_dept_id": dept} if kind == "case_assigned" else {})

    evaluations = [
        evaluation("BJ1", "very_dissatisfied", 2, "09:00"),
        evaluation("BJ2", "satisfied", 2, "09:10"),
        evaluation("BJ3", "satisfied", 5, "09:20"),  # reaches the province five days late
        evaluation("BJ2", "basic", 2, "09:30"),  # BJ2 evaluated a second time
    ]
    steps = [
        step("C1", "BJ1", "case_created", "10:00"),
        step("C1", "BJ1", "case_assigned", "10:05"),
        step("C1", "BJ1", "case_rectified", "15:00"),
        step("C1", "BJ1", "case_closed", "16:00"),
        step("C2", "BJ2", "case_created", "10:00"),  # a case on a good review
    ]
    assert not (await _post(stack, "evaluation", evaluations)).get("rejected")
    assert not (await _post(stack, "case", steps)).get("rejected")
    ids = [e["event_id"] for e in evaluations + steps]

    async def stored() -> bool:
        rows = await stack.ch.query(
            "SELECT (SELECT count() FROM evaluations WHERE has({ids:Array(String)}, event_id))"
            " + (SELECT count() FROM case_events WHERE has({ids:Array(String)}, event_id))",
            {"ids": ids},
        )
        return rows[0][0] >= len(ids)

    await eventually(stored, timeout_s=60)
    first = (today - timedelta(days=6)).date()
    last = (today - timedelta(days=1)).date()
    result = await export(stack.ch, parse_period(f"{first}..{last}"), tmp_path)

    [mine] = [row for row in result["by_dept"] if row["dept_id"] == dept]
    assert mine == {"dept_id": dept, "records": 9, "passed": 6, "pass_rate": 0.6667}
    failures = {
        f["record_id"]: f
        for f in map(json.loads, (tmp_path / "failures.jsonl").read_text(encoding="utf-8").splitlines())
        if f["record_id"].startswith(run)
    }
    assert {rid: [r["reason"] for r in f["reasons"]] for rid, f in failures.items()} == {
        evaluations[2]["event_id"]: ["late"],
        evaluations[3]["event_id"]: ["duplicate"],
        steps[4]["event_id"]: ["case_on_good_review"],
    }
    bad_case = failures[steps[4]["event_id"]]
    assert bad_case["kind"] == "case_step" and bad_case["city_code"] == SHARED_CITY
    assert bad_case["reasons"][0]["detail_zh"].endswith("不是差评")
    passed = [
        json.loads(line)["record_id"]
        for name in ("evaluations.jsonl", "case_steps.jsonl")
        for line in (tmp_path / name).read_text(encoding="utf-8").splitlines()
    ]
    assert sorted(rid for rid in passed if rid.startswith(run)) == sorted(
        e["event_id"] for e in [evaluations[0], evaluations[1], *steps[:4]]
    )
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["by_dept"] == result["by_dept"]
