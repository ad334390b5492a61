"""HTTP API over the statistics reports: make one for a period, or fetch one the schedule kept.

GET /api/v1/reports?period=2026-11&level=province|city|dept[&city=440600]&format=xlsx|pdf
GET /api/v1/reports/archive                     the kept reports this user may read
GET /api/v1/reports/archive/{name}              one of them

Who reads what: a province-wide user (admin, province operator, a viewer without a city) any report; a city
user (operator or viewer) only the reports of their own city: level city or dept with their city. Any other
report answers 404, as if it did not exist, so a city user cannot learn what other cities' reports hold.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

import structlog
from aiohttp import web

from connectors.center.auth_api import error, principal
from connectors.reports.pdf import PdfFontMissing, write_pdf
from connectors.reports.xlsx import write_xlsx
from streams.auth.access import Principal
from streams.indicators.query import QueryError
from streams.periods import Period, PeriodError, parse_period
from streams.reports.build import ReportError
from streams.reports.spec import ReportSpecError
from streams.reports.tables import LEVELS, Level, Report

log = structlog.get_logger(__name__)
MakeReport = Callable[[Period, Level, int | None], Awaitable[Report]]
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
#: A kept report's file name, as Report.filename writes it: report-<period>-<level>[-<city>].<format>.
_ARCHIVED = re.compile(
    r"^report-(?P<period>[0-9QH.\-]{4,23})-(?P<level>province|city|dept)(?:-(?P<city>\d{6}))?\.(?P<fmt>xlsx|pdf)$"
)


def may_read(who: Principal, level: str, city: int | None) -> bool:
    if who.province_wide:
        return True
    return level in ("city", "dept") and city is not None and str(city) == who.city


def _city(text: str | None) -> int | None:
    if not text:
        return None
    if not text.isdigit() or len(text) != 6:
        raise ReportError(f"city={text!r}: give a GB/T 2260 code such as 440600")
    return int(text)


def _attachment(path: Path, fmt: str) -> web.FileResponse:
    return web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[fmt],
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(path.name)}",
        },
    )


def kept_reports(archive: Path, who: Principal) -> list[dict[str, object]]:
    """The schedule's reports `who` may read, oldest period first."""
    kept: list[dict[str, object]] = []
    for path in sorted(archive.glob("*/report-*")) if archive.exists() else []:
        m = _ARCHIVED.match(path.name)
        if m is None:
            continue
        city = int(m["city"]) if m["city"] else None
        if may_read(who, m["level"], city):
            kept.append(
                {
                    "name": path.name,
                    "period": m["period"],
                    "level": m["level"],
                    "city": city,
                    "format": m["fmt"],
                    "bytes": path.stat().st_size,
                    "url": f"/api/v1/reports/archive/{path.name}",
                }
            )
    return kept


def add_routes(app: web.Application, make: MakeReport, scratch: Path, archive: Path) -> None:
    """Mount the report routes; reports made on request are written under `scratch`, kept ones read from `archive`."""
    # One report at a time: each runs hundreds of indicator queries, and chDB answers them one by one anyway.
    gate = asyncio.Lock()

    async def get_report(request: web.Request) -> web.StreamResponse:
        params = request.query
        fmt = params.get("format", "xlsx")
        level = params.get("level", "")
        try:
            if fmt not in CONTENT_TYPES:
                raise ReportError(f"format={fmt!r}: use xlsx or pdf")
            if level not in LEVELS:
                raise ReportError(f"level={level!r}: use one of {', '.join(LEVELS)}")
            period = parse_period(params.get("period", ""))
            city = _city(params.get("city"))
        except (ReportError, PeriodError) as exc:
            return error(400, "bad_query", str(exc))
        if not may_read(principal(request), level, city):
            return error(404, "not_found", "no such report")
        async with gate:
            try:
                report = await make(period, level, city)
                folder = scratch / principal(request).username
                path = folder / report.filename(fmt)
                await asyncio.to_thread(write_xlsx if fmt == "xlsx" else write_pdf, report, path)
            except (ReportError, QueryError) as exc:
                return error(400, "bad_query", str(exc))
            except ReportSpecError as exc:
                return error(503, "report_spec_invalid", str(exc))
            except PdfFontMissing as exc:
                return error(503, "pdf_font_missing", str(exc))
        log.info(
            "report_made", period=period.label, level=level, city=city, format=fmt, user=principal(request).username
        )
        return _attachment(path, fmt)

    async def list_archive(request: web.Request) -> web.Response:
        return web.json_response({"reports": await asyncio.to_thread(kept_reports, archive, principal(request))})

    async def get_archived(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        m = _ARCHIVED.match(name)
        if m is None or not may_read(principal(request), m["level"], int(m["city"]) if m["city"] else None):
            return error(404, "not_found", "no such report")
        path = archive / m["period"] / name
        if not await asyncio.to_thread(path.is_file):
            return error(404, "not_found", "no such report")
        return _attachment(path, m["fmt"])

    app.router.add_get("/api/v1/reports", get_report)
    app.router.add_get("/api/v1/reports/archive", list_archive)
    app.router.add_get("/api/v1/reports/archive/{name}", get_archived)
