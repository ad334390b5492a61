"""The report writers: the workbook reads back with its numbers and formats, the PDF has its pages."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from connectors.reports.pdf import PdfFontMissing, cell_text, cjk_font, write_pdf
from connectors.reports.xlsx import NUMBER_FORMATS, write_xlsx
from streams.periods import parse_period
from streams.reports.tables import Chart, Column, Report, Table, change


def _report(rows: int = 3) -> Report:
    period = parse_period("2026-11")
    report = Report(
        "政务服务监测统计报表",
        period,
        period.previous(),
        "province",
        None,
        "全省",
        datetime(2026, 12, 1, 1, tzinfo=UTC),
    )
    report.tables.append(
        Table(
            "全省指标",
            "全省指标",
            [Column("指标"), Column("本期"), Column("上期"), Column("环比")],
            [["取号量", 1200, 1000, 0.2], ["满意率", 0.95, None, None]],
            note="说明",
            cell_kinds=[["text", "int", "int", "change"], ["text", "percent", "percent", "change"]],
        )
    )
    cities = Table(
        "各市排名", "各市", [Column("排名", "int"), Column("名称"), *(Column(f"指标{i}", "decimal") for i in range(12))]
    )
    cities.rows.extend([[r + 1, f"城市{r}", *(float(r * i) for i in range(12))] for r in range(rows)])
    report.tables.append(cities)
    report.charts.append(Chart("各市综合得分", [f"城市{r}" for r in range(rows)], [90.0 - r for r in range(rows)]))
    return report


def test_the_workbook_holds_numbers_with_their_formats(tmp_path: Path) -> None:
    path = write_xlsx(_report(), tmp_path / "r.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames == ["说明", "全省指标", "各市排名"]
    ws = wb["全省指标"]
    assert [c.value for c in ws[3]] == ["指标", "本期", "上期", "环比"]
    assert ws["B4"].value == 1200 and ws["B4"].number_format == NUMBER_FORMATS["int"]
    assert ws["B5"].value == pytest.approx(0.95) and ws["B5"].number_format == NUMBER_FORMATS["percent"]
    assert ws["D4"].value == pytest.approx(0.2) and ws["D4"].number_format == NUMBER_FORMATS["change"]
    assert ws["C5"].value is None  # a missing figure is an empty cell, not 0
    assert wb["各市排名"]["A6"].value == 3
    assert not list(tmp_path.glob("*.part"))


def test_a_relative_change_needs_both_figures_and_a_previous_one_not_zero() -> None:
    assert change(120, 100) == pytest.approx(0.2)
    assert change(80, 100) == pytest.approx(-0.2)
    assert change(5, 0) is None and change(None, 1) is None and change(1, None) is None


def test_cells_read_as_people_write_them() -> None:
    assert cell_text(1234.0, "int") == "1,234"
    assert cell_text(0.9512, "percent") == "95.12%"
    assert cell_text(-0.05, "change") == "-5.0%"
    assert cell_text(None, "decimal") == "—"


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) renders the pages")
def test_the_pdf_has_a_title_page_and_continues_wide_and_long_tables(tmp_path: Path) -> None:
    try:
        cjk_font()
    except PdfFontMissing:
        pytest.skip("no CJK font here (tests/debian-packages.txt installs fonts-noto-cjk)")
    path = write_pdf(_report(rows=40), tmp_path / "r.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(path), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    # title page; 全省指标 (1 page); 各市排名: 40 rows → 2 row pages × 12 value columns → 2 column pages = 4.
    assert len(pages) == 1 + 1 + 4
    assert all(p.stat().st_size > 2000 for p in pages)
