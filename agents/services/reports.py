"""The report schedule: when a month, quarter, half-year or year closes, write its reports and keep them.

Runs in the monitoring center's process (it has ClickHouse and the registry). Each closed period gets a folder
data_dir/reports/<period>/ with the province's report, the departments' and each city's, as XLSX and PDF (PDF only
where a CJK font is installed; without one the XLSX are written and the log says why the PDF are not). A period
without any ticket or evaluation stored gets no reports. A file `complete.json` marks the folder done; a folder
without it is written again at the next check, so a stop in the middle loses nothing. Reports are made one after
another in the background: they read ClickHouse with the same queries the API answers with, and nothing waits on
them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from agents import reporting
from agents.services.clickhouse import ClickHouseStore
from agents.settings import Settings
from connectors.reports.pdf import PdfFontMissing, cjk_font
from streams.periods import Period
from streams.registry import Registry
from streams.reports.schedule import jobs, latest_closed

log = structlog.get_logger(__name__)
#: The first look waits this long (or the check interval, if shorter), for the stack to be up.
FIRST_CHECK_S = 60.0
COMPLETE = "complete.json"
HAS_DATA_SQL = """
SELECT (SELECT count() FROM ticket_facts
        WHERE day BETWEEN toDate({start:DateTime64(3, 'UTC')}, 'Asia/Shanghai')
                      AND toDate({end:DateTime64(3, 'UTC')}, 'Asia/Shanghai') - 1)
     + (SELECT count() FROM evaluation_5m
        WHERE bucket >= {start:DateTime64(3, 'UTC')} AND bucket < {end:DateTime64(3, 'UTC')})
"""


class ReportSchedule:
    name = "report schedule"

    def __init__(self, settings: Settings, clickhouse: ClickHouseStore, registry: Registry) -> None:
        self.settings = settings
        self.clickhouse = clickhouse
        self.registry = registry
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="report-schedule")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        every = self.settings.report_check_every_s
        await asyncio.sleep(min(FIRST_CHECK_S, every))
        while True:
            try:
                await self.run_due(datetime.now(UTC))
            except Exception as exc:  # noqa: BLE001 - a failed round is logged and tried again at the next check
                log.warning("report_schedule_failed", error=str(exc)[:500])
            await asyncio.sleep(every)

    async def run_due(self, now: datetime) -> list[Path]:
        """Write every due period's missing reports; returns the files written."""
        written: list[Path] = []
        for period in latest_closed(now):
            folder = self.settings.reports_archive / period.label
            if (folder / COMPLETE).exists() or not await self.has_data(period):
                continue
            written.extend(await self.write_period(period, folder))
        return written

    async def has_data(self, period: Period) -> bool:
        """Whether any ticket or evaluation of the period is stored: a fresh install writes no empty reports of
        the months before it ran."""
        rows = await self.clickhouse.client.query(HAS_DATA_SQL, {"start": period.start, "end": period.end})
        return bool(rows and rows[0][0])

    async def write_period(self, period: Period, folder: Path) -> list[Path]:
        formats: list[reporting.Format] = ["xlsx"]
        try:
            cjk_font()
            formats.append("pdf")
        except PdfFontMissing as exc:
            log.warning("report_pdf_skipped", period=period.label, reason=str(exc))
        cities = [c.code for c in self.registry.cities()]
        written: list[Path] = []
        rankings: dict[Any, Any] = {}
        for i, job in enumerate(jobs(period, cities)):
            # The national checks run with the first report; the others read the verdicts it stored.
            report = await reporting.make_report(
                self.settings, self.clickhouse.client, self.registry, job.period, job.level, job.city, i == 0, rankings
            )
            for fmt in formats:
                written.append(await reporting.write(report, fmt, folder))
        done = {"period": period.label, "written_at": datetime.now(UTC).isoformat(), "files": [p.name for p in written]}
        await asyncio.to_thread((folder / COMPLETE).write_text, json.dumps(done, ensure_ascii=False, indent=1))
        log.info("reports_written", period=period.label, files=len(written), folder=str(folder))
        return written
