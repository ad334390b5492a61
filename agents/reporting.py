"""Make a period's report from a running or stopped stack's ClickHouse: the CLI, the API and the schedule share it.

The report spec is read again for every report, so a change to alert_rules/reports/ (or to the indicators it
names) needs no restart; the national upload's checks are run over the period (and the one before) and their
verdicts stored first, so the pass rate the report reads is current.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from agents.settings import Settings
from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.national_checks import check_period
from connectors.reports.pdf import write_pdf
from connectors.reports.xlsx import write_xlsx
from streams.indicators.catalog import INDICATORS
from streams.indicators.scorecard import load_scorecard
from streams.periods import Period
from streams.registry import Registry
from streams.reports.build import Sources, build_report
from streams.reports.spec import load_spec
from streams.reports.tables import Level, Report
from streams.rules.loader import read_rules

Format = Literal["xlsx", "pdf"]
FORMATS: tuple[Format, ...] = ("xlsx", "pdf")


def sources(
    settings: Settings,
    ch: ClickHouse,
    registry: Registry,
    now: datetime | None = None,
    check_national: bool = True,
    rankings: dict[Any, Any] | None = None,
) -> Sources:
    """What a report reads, as the files on disk say now (raises ReportSpecError / ScorecardError naming a file)."""
    spec = load_spec(settings.report_path, INDICATORS)
    cards = {card.name: card for card in (load_scorecard(p) for p in settings.scorecard_paths)}
    rules, _ = read_rules(settings.rules_path)
    titles = {rule.id: rule.title for rule in rules}

    async def prepare(period: Period) -> None:
        await check_period(ch, period)

    return Sources(
        ch,
        registry,
        spec,
        cards,
        INDICATORS,
        now or datetime.now(UTC),
        titles,
        prepare if check_national else None,
        {} if rankings is None else rankings,
    )


async def make_report(
    settings: Settings,
    ch: ClickHouse,
    registry: Registry,
    period: Period,
    level: Level,
    city: int | None,
    check_national: bool = True,
    rankings: dict[Any, Any] | None = None,
) -> Report:
    """The report; `check_national=False` when the period's national checks were just run for another report, and
    `rankings` shared by the reports of one period so that each ranking is made once."""
    src = sources(settings, ch, registry, check_national=check_national, rankings=rankings)
    return await build_report(src, period, level, city)


async def write(report: Report, fmt: Format, folder: Path) -> Path:
    """Write the report as `fmt` into `folder` (drawing runs off the event loop); returns the file."""
    path = folder / report.filename(fmt)
    writer = write_xlsx if fmt == "xlsx" else write_pdf
    return await asyncio.to_thread(writer, report, path)
