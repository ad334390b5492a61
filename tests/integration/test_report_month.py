"""A scripted month of traffic in two cities, through a `govpulse up` of its own, and the reports made of it.

The stack is its own (its own data dir, broker and chDB): the province's figures are then exactly the script's,
and it accepts events up to 100 days old, so a month that has closed can be sent now. Month M is the last closed
month, M-1 the one before it; times are local (Asia/Shanghai). Every expected figure is worked out by hand below.

    M, day 3    佛山 hall: t1 waits 600 s, t2 waits 1200 s; 深圳 hall: t4 waits 300 s
                evaluations: 佛山 satisfied, very_satisfied, dissatisfied; 深圳 very_dissatisfied, satisfied
    M, day 10   佛山 hall: t3 waits 1800 s; evaluation: 佛山 basic
    M-1, day 5  佛山 hall: t5 waits 60 s; evaluations: 佛山 satisfied, satisfied

Figures (a period's figure of a ratio or a time is the mean of its days' values, 日均; a count is the total):
    tickets_issued      province M 4, M-1 1 → 环比 +300%; 佛山 3; 深圳 1
    evaluations         province M 6, M-1 2 → +200%
    satisfaction_rate   province: day 3 3/5 = 0.6, day 10 1/1 → 0.8; 佛山: 2/3 and 1 → 0.8333; 深圳 1/2
    wait_p90_s          province: day 3 waits 300, 600, 1200 → 600 + 0.8 × 600 = 1080; day 10 1800 → 1440
    national_pass_rate  every record reached the province weeks after it happened → all late → 0
Both cities' tickets and evaluations are handled by the counterparts of one provincial department, so that
department's vertical line (条线合计) holds all 4 tickets of M, and the department itself (本级) none.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from openpyxl import load_workbook

from connectors.gateway.node_tokens import issue_tokens
from streams.auth.users import UserStore, new_user
from streams.periods import Period, parse_period
from streams.registry.snapshot import read_snapshot
from streams.reports.schedule import latest_closed
from streams.workdays import SHANGHAI
from tests.integration.processes import Up, wait_for

pytestmark = [pytest.mark.integration]

FS, SZ = 440600, 440300
PASSWORD = "report-Passw0rd"
USERS = [("prov", "province_operator", None), ("fs_op", "city_operator", FS), ("fs_view", "viewer", FS)]


def _month() -> tuple[Period, Period]:
    today = datetime.now(SHANGHAI).date()
    this = parse_period(f"{today.year}-{today.month:02d}")
    last = this.previous()
    return last, last.previous()


class Script:
    def __init__(self, registry: Any) -> None:
        self.registry = registry
        self.seq: dict[str, int] = {}
        self.run = f"{time.time_ns()}"
        self.batches: dict[tuple[str, str], list[dict[str, Any]]] = {}
        provincial = next(
            d for d in registry.departments() if d.level == "province" and self._counterpart(d.dept_id, FS)
        )
        self.line = provincial.dept_id
        self.item = next(i.item_id for i in registry.items() if i.dept_id == self.line)

    def _counterpart(self, provincial: str, city: int) -> str | None:
        return next(
            (d.dept_id for d in self.registry.departments() if d.parent_id == provincial and d.city_code == city),
            None,
        )

    def _hall(self, city: int) -> tuple[str, str]:
        hall = self.registry.halls_in_city(city)[0]
        window = next(w for w in self.registry.windows() if w.hall_id == hall.hall_id)
        return hall.hall_id, window.window_id

    def _event(self, city: int, stream: str, kind: str, at: datetime, **fields: Any) -> None:
        source = f"node-{city}"
        self.seq[source] = self.seq.get(source, 0) + 1
        n = self.seq[source]
        event = {
            "event_id": f"month-{self.run}-{city}-{n}",
            "source": source,
            "seq": n,
            "occurred_at": at.astimezone(UTC).isoformat(),
            "sent_at": datetime.now(UTC).isoformat(),
            "type": kind,
            **fields,
        }
        self.batches.setdefault((source, stream), []).append(event)

    def ticket(self, city: int, day: datetime, no: str, issued: str, wait_s: int, service_s: int) -> None:
        hall, window = self._hall(city)
        dept = self._counterpart(self.line, city)
        common = {"hall_id": hall, "ticket_no": f"{no}-{self.run[-6:]}", "item_id": self.item, "dept_id": dept}
        h, m = (int(x) for x in issued.split(":"))
        t0 = day + timedelta(hours=h, minutes=m)
        called = t0 + timedelta(seconds=wait_s)
        self._event(city, "queue", "ticket_issued", t0, **common)
        for kind, at in (
            ("ticket_called", called),
            ("service_started", called),
            ("service_completed", called + timedelta(seconds=service_s)),
        ):
            self._event(city, "queue", kind, at, **common, window_id=window)

    def evaluation(self, city: int, day: datetime, at: str, level: str) -> None:
        hall, window = self._hall(city)
        h, m = (int(x) for x in at.split(":"))
        n = self.seq.get(f"node-{city}", 0) + 1
        self._event(
            city,
            "evaluation",
            "evaluation",
            day + timedelta(hours=h, minutes=m),
            case_no=f"BJ{self.run}{city}{n}",
            item_id=self.item,
            dept_id=self._counterpart(self.line, city),
            level=level,
            channel="hall_pad",
            mode="active",
            hall_id=hall,
            window_id=window,
            evaluator_hash=hashlib.sha256(f"month-{self.run}-{n}".encode()).hexdigest(),
        )


def _day(period: Period, n: int) -> datetime:
    return datetime.combine(period.first_day + timedelta(days=n - 1), datetime.min.time(), SHANGHAI)


def script(registry: Any, month: Period, before: Period) -> Script:
    s = Script(registry)
    d3, d10, p5 = _day(month, 3), _day(month, 10), _day(before, 5)
    s.ticket(FS, d3, "A001", "09:00", 600, 600)
    s.ticket(FS, d3, "A002", "09:05", 1200, 900)
    s.ticket(SZ, d3, "B001", "14:00", 300, 300)
    s.ticket(FS, d10, "A003", "10:00", 1800, 900)
    s.ticket(FS, p5, "A009", "11:00", 60, 300)
    for city, day, at, level in (
        (FS, d3, "09:30", "satisfied"),
        (FS, d3, "09:45", "very_satisfied"),
        (FS, d3, "10:00", "dissatisfied"),
        (SZ, d3, "14:20", "very_dissatisfied"),
        (SZ, d3, "14:25", "satisfied"),
        (FS, d10, "11:00", "basic"),
        (FS, p5, "11:10", "satisfied"),
        (FS, p5, "11:20", "satisfied"),
    ):
        s.evaluation(city, day, at, level)
    return s


@pytest.fixture(scope="module")
def month_stack(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("report-month")
    users = UserStore(data / "users.json")
    for name, role, city in USERS:
        users.put(new_user(name, role, PASSWORD, city=str(city) if city else None, display_name=name))
    tokens = issue_tokens([f"node-{FS}", f"node-{SZ}"], data / "node_tokens.json")
    up = Up(
        data,
        env={
            "GOVPULSE_MAX_EVENT_AGE_S": str(100 * 86400),
            # The schedule looks every 5 s, so it writes the last closed month's reports once the script is stored.
            "GOVPULSE_REPORT_CHECK_EVERY_S": "5",
            "GOVPULSE_LOG_LEVEL": "warning",
        },
    )
    month, before = _month()
    s = script(read_snapshot(data / "registry.jsonl"), month, before)
    for (source, stream), events in s.batches.items():
        _post(up.base, stream, source, tokens[source], events)
    wanted = {"queue_events": 20, "evaluations": 8}
    wait_for(lambda: all(up.stats().get(t, 0) >= n for t, n in wanted.items()), 90, f"{wanted} stored")
    yield up, s, data, month
    if up.proc.poll() is None:
        up.terminate()


def _post(base: str, stream: str, source: str, token: str, events: list[dict[str, Any]]) -> None:
    import json
    import urllib.request

    req = urllib.request.Request(
        f"{base}/api/v1/ingest/{stream}",
        data=json.dumps({"source": source, "events": events}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        answer = json.loads(resp.read())
    assert resp.status == 202 and not answer.get("rejected"), answer


async def _session(base: str, username: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post("/api/v1/session", json={"username": username, "password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
    return session


async def _download(base: str, username: str, path: Path, **params: Any) -> int:
    session = await _session(base, username)
    try:
        async with session.get("/api/v1/reports", params={k: str(v) for k, v in params.items()}) as resp:
            body = await resp.read()
            status = resp.status
    finally:
        await session.close()
    if status == 200:
        await asyncio.to_thread(path.write_bytes, body)
    return status


def _pages(pdf: Path, folder: Path) -> list[Path]:
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(pdf), str(folder / "page")], check=True)
    return sorted(folder.glob("page-*.png"))


def _by_code(ws: Any) -> dict[str, tuple[Any, Any, Any]]:
    """指标代码 → (本期, 上期, 环比) of an indicator sheet."""
    return {row[1]: (row[3], row[4], row[5]) for row in ws.iter_rows(min_row=4, values_only=True) if row[1]}


def _header_index(ws: Any, header: str) -> int:
    return [c.value for c in ws[3]].index(header)


async def test_the_province_report_holds_the_hand_worked_figures(month_stack, tmp_path: Path) -> None:
    up, s, _, month = month_stack
    path = tmp_path / "province.xlsx"
    assert await _download(up.base, "prov", path, period=month.label, level="province", format="xlsx") == 200
    wb = load_workbook(path)
    assert wb.sheetnames == ["说明", "全省指标", "各市排名", "部门条线", "上报质检", "告警TOP"]

    figures = _by_code(wb["全省指标"])
    assert figures["tickets_issued"] == (4, 1, pytest.approx(3.0))
    assert figures["tickets_served"][0] == 4
    assert figures["evaluations"] == (6, 2, pytest.approx(2.0))
    assert figures["satisfaction_rate"][0] == pytest.approx(0.8)
    assert figures["wait_p90_s"][0] == pytest.approx(1440)
    assert figures["national_pass_rate"][0] == pytest.approx(0.0)
    assert wb["全省指标"]["D4"].number_format == "#,##0"  # a count is a number shown as a whole number

    cities = wb["各市排名"]
    issued = _header_index(cities, "取号量（合计）")
    satisfaction = _header_index(cities, "满意率（日均）")
    rows = {row[2]: row for row in cities.iter_rows(min_row=4, values_only=True) if row[2]}
    assert len(rows) == 21
    assert rows[str(FS)][issued] == 3 and rows[str(SZ)][issued] == 1
    assert rows[str(FS)][satisfaction] == pytest.approx(2.5 / 3)
    assert rows[str(SZ)][satisfaction] == pytest.approx(0.5)
    # Only the two cities with data have a composite score and a rank; the other 19 have neither.
    assert sorted(r[0] for r in rows.values() if r[0] is not None) == [1, 2]
    assert all(rows[c][3] is not None for c in (str(FS), str(SZ)))

    lines = wb["部门条线"]
    issued = _header_index(lines, "取号量（合计）")
    mine = {row[2]: row for row in lines.iter_rows(min_row=4, values_only=True) if row[1] == s.line}
    assert mine["条线合计"][issued] == 4
    assert mine["本级"][issued] is None

    reasons = {row[0]: row[1] for row in wb["上报质检"].iter_rows(min_row=4, values_only=True) if row[0]}
    assert reasons.get("late") == 6


async def test_a_city_user_reads_their_own_city_only(month_stack, tmp_path: Path) -> None:
    up, _, _, month = month_stack
    path = tmp_path / "fs.xlsx"
    assert await _download(up.base, "fs_op", path, period=month.label, level="city", city=FS) == 200
    figures = _by_code(load_workbook(path)["本市指标"])
    assert figures["tickets_issued"] == (3, 1, pytest.approx(2.0))
    assert figures["satisfaction_rate"][0] == pytest.approx(2.5 / 3)
    other = tmp_path / "other.xlsx"
    for user in ("fs_op", "fs_view"):
        assert await _download(up.base, user, other, period=month.label, level="city", city=SZ) == 404
        assert await _download(up.base, user, other, period=month.label, level="province") == 404
    assert await _download(up.base, "fs_view", path, period=month.label, level="city", city=FS) == 200
    assert not other.exists()


async def test_a_viewer_cannot_upload_manual_data(month_stack) -> None:
    up, *_ = month_stack
    session = await _session(up.base, "fs_view")
    try:
        body = "indicator,entity_kind,entity,period,value\nonsite_inspection_score,city,440600,2026-11,90\n"
        async with session.post("/api/v1/manual-values?filename=scores.csv", data=body.encode()) as resp:
            assert resp.status == 403, await resp.text()
    finally:
        await session.close()


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils, tests/debian-packages.txt)")
async def test_the_pdf_has_its_pages(month_stack, tmp_path: Path) -> None:
    up, _, _, month = month_stack
    path = tmp_path / "province.pdf"
    assert await _download(up.base, "prov", path, period=month.label, level="province", format="pdf") == 200
    pages = await asyncio.to_thread(_pages, path, tmp_path)
    # title page, then 全省指标 1, 各市排名 21 rows × 19 columns → 2, 部门条线 108 rows → 4 × 2, 上报质检 1, 告警TOP 1
    assert len(pages) >= 1 + 1 + 2 + 4 + 1 + 1
    assert all(p.stat().st_size > 1000 for p in pages)


async def test_the_schedule_keeps_the_closed_months_reports_for_each_reader(month_stack) -> None:
    up, _, data, _ = month_stack
    # The last month that closed two hours ago: the scripted month, or (in the first two hours of a month) the
    # one before it; the script has data in both.
    due = latest_closed(datetime.now(UTC))[0]
    done = data / "reports" / due.label / "complete.json"
    await asyncio.to_thread(wait_for, done.exists, 300, f"{done}")
    prov, fs = await _session(up.base, "prov"), await _session(up.base, "fs_op")
    try:
        async with prov.get("/api/v1/reports/archive") as resp:
            kept = [r for r in (await resp.json())["reports"] if r["period"] == due.label]
        async with fs.get("/api/v1/reports/archive") as resp:
            mine = [r for r in (await resp.json())["reports"] if r["period"] == due.label]
        # The province's, the departments' and 21 cities', as XLSX and PDF.
        assert len(kept) == 2 * 23
        assert {(r["level"], r["city"]) for r in mine} == {("city", FS)}
        province = f"/api/v1/reports/archive/report-{due.label}-province.xlsx"
        async with fs.get(province) as resp:
            assert resp.status == 404
        async with prov.get(province) as resp:
            assert resp.status == 200 and (await resp.read()).startswith(b"PK")
    finally:
        await prov.close()
        await fs.close()


def test_the_command_line_writes_the_same_report_once_the_stack_is_stopped(month_stack, tmp_path: Path) -> None:
    up, _, data, month = month_stack
    assert up.terminate() == 0
    done = subprocess.run(
        [
            *(sys.executable, "-m", "agents.cli.main", "report", "--data-dir", str(data), "--period", month.label),
            *("--level", "city", "--city", str(FS), "--format", "xlsx", "--out", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    path = Path(done.stdout.strip().splitlines()[-1])
    assert path.name == f"report-{month.label}-city-{FS}.xlsx"
    assert _by_code(load_workbook(path)["本市指标"])["tickets_issued"] == (3, 1, pytest.approx(2.0))
