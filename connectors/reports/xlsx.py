"""A report as an Excel workbook: a cover sheet, then one sheet per table, Chinese headers, numbers as numbers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from streams.reports.tables import ColumnKind, Report, Table
from streams.workdays import SHANGHAI

NUMBER_FORMATS: dict[ColumnKind, str] = {
    "text": "@",
    "int": "#,##0",
    "decimal": "#,##0.00",
    "percent": "0.00%",
    "change": "+0.0%;-0.0%;0.0%",
}
_HEAD_FILL = PatternFill("solid", fgColor="DDE6F0")
_BOLD = Font(bold=True)
#: Rows above a table's header: its title and the period line.
_HEADER_ROW = 3


def _cover(ws: Worksheet, report: Report) -> None:
    ws.title = "说明"
    rows: list[tuple[str, Any]] = [
        ("报表", report.heading),
        ("统计期间", f"{report.period.first_day.isoformat()} 至 {report.period.last_day.isoformat()}"),
        ("对比期间（上期）", f"{report.previous.first_day.isoformat()} 至 {report.previous.last_day.isoformat()}"),
        ("层级", report.level),
        ("生成时间", report.generated_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")),
        ("说明", "日期均为北京时间自然日；计数为期间合计，比率和时长为有数日的日均值，期末值取最后一日。"),
    ]
    for r, (key, value) in enumerate(rows, start=1):
        ws.cell(r, 1, key).font = _BOLD
        ws.cell(r, 2, value)
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 80


def _width(value: Any) -> int:
    # CJK characters take two columns of a fixed-width cell.
    text = str(value) if value is not None else ""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _sheet(ws: Worksheet, report: Report, table: Table) -> None:
    ws.cell(1, 1, table.title).font = Font(bold=True, size=13)
    ws.cell(2, 1, f"{report.heading}；上期 {report.previous.label}")
    widths = [_width(c.header) + 2 for c in table.columns]
    for c, column in enumerate(table.columns, start=1):
        cell = ws.cell(_HEADER_ROW, c, column.header)
        cell.font, cell.fill = _BOLD, _HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for r, row in enumerate(table.rows):
        for c, value in enumerate(row):
            cell = ws.cell(_HEADER_ROW + 1 + r, c + 1, value)
            kind = table.kind(r, c)
            if value is not None:
                cell.number_format = NUMBER_FORMATS[kind]
            if kind == "text":
                widths[c] = max(widths[c], min(_width(value) + 2, 60))
    if table.note:
        ws.cell(_HEADER_ROW + 2 + len(table.rows), 1, table.note).font = Font(italic=True, color="555555")
    for c, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(c)].width = max(width, 10)
    ws.freeze_panes = f"A{_HEADER_ROW + 1}"


def write_xlsx(report: Report, path: Path) -> Path:
    """Write the workbook to `path` (through a temporary file, so a reader never sees half of it)."""
    wb = Workbook()
    _cover(wb.active if isinstance(wb.active, Worksheet) else wb.create_sheet(), report)
    for table in report.tables:
        _sheet(wb.create_sheet(table.sheet), report, table)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    wb.save(partial)
    partial.replace(path)
    return path
