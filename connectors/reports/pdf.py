"""A report as a PDF (A4 landscape): a title page with the first table and the charts, then every table in pages.

Drawn with matplotlib. Chinese text needs a CJK font on the machine (Debian: fonts-noto-cjk); without one the
PDF is refused with that advice rather than written with empty boxes for every character.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
from matplotlib import font_manager
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from streams.reports.tables import Chart, ColumnKind, Report, Table
from streams.workdays import SHANGHAI

#: CJK fonts tried in order; the first installed one draws every page.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "SimHei",
    "Microsoft YaHei",
)
PAGE = (11.69, 8.27)  # A4 landscape, inches
#: left, bottom, width, height as fractions of the page.
Rect = tuple[float, float, float, float]
ROWS_PER_PAGE = 28
#: Value columns per page beside the columns that name the row; a wider table continues on the next page.
VALUES_PER_PAGE = 8


class PdfFontMissing(RuntimeError):
    """No CJK font is installed, so the report's Chinese cannot be drawn."""


def _installed() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def cjk_font() -> str:
    installed = _installed()
    if not installed & set(CJK_FONTS):
        # matplotlib lists fonts from a cache made the first time it ran: a font installed since then is added here.
        known = {f.fname for f in font_manager.fontManager.ttflist}
        for path in font_manager.findSystemFonts():
            if path not in known and any(key in path for key in ("CJK", "wqy", "SourceHan", "simhei", "msyh")):
                font_manager.fontManager.addfont(path)
        installed = _installed()
    for name in CJK_FONTS:
        if name in installed:
            return name
    raise PdfFontMissing(
        "PDF reports need a CJK font and none is installed (tried "
        + ", ".join(CJK_FONTS)
        + "); on Debian: apt-get install fonts-noto-cjk. The XLSX report needs no font."
    )


def cell_text(value: Any, kind: ColumnKind) -> str:
    if value is None:
        return "—"
    if kind == "int":
        return f"{value:,.0f}"
    if kind == "decimal":
        return f"{value:,.2f}"
    if kind == "percent":
        return f"{100 * value:.2f}%"
    if kind == "change":
        return f"{100 * value:+.1f}%"
    return str(value)


def _text_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _identity_columns(table: Table) -> int:
    """How many leading text columns name a row (kept on every page of a wide table)."""
    n = 0
    for column in table.columns:
        if column.kind not in ("text", "int") or n >= 3:
            break
        n += 1
    return max(n, 1)


def _pages(table: Table) -> list[tuple[list[int], range]]:
    """(column indexes, row range) of each page the table needs."""
    keep = list(range(_identity_columns(table)))
    rest = list(range(len(keep), len(table.columns)))
    column_sets = [keep + rest[i : i + VALUES_PER_PAGE] for i in range(0, len(rest), VALUES_PER_PAGE)] or [keep]
    row_ranges = [range(i, min(i + ROWS_PER_PAGE, len(table.rows))) for i in range(0, len(table.rows), ROWS_PER_PAGE)]
    return [(cols, rows) for rows in row_ranges or [range(0)] for cols in column_sets]


def _draw_table(fig: Figure, rect: Rect, table: Table, cols: list[int], rows: range) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    headers = [table.columns[c].header for c in cols]
    body = [[cell_text(table.rows[r][c], table.kind(r, c)) for c in cols] for r in rows]
    if not body:
        body = [["（无数据）"] + [""] * (len(cols) - 1)]
    # Each column as wide as its longest text (a CJK character counts two), so names are not cut off.
    widths = [max(_text_width(headers[i]) * 0.7, *(_text_width(row[i]) for row in body), 6) for i in range(len(cols))]
    total = sum(widths)
    drawn = ax.table(
        cellText=body, colLabels=headers, colWidths=[w / total for w in widths], loc="upper center", cellLoc="center"
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(7)
    drawn.scale(1, 1.25)
    for (row, _), cell in drawn.get_celld().items():
        if row == 0:
            cell.set_facecolor("#dde6f0")
            cell.set_text_props(weight="bold", wrap=True)
            cell.set_height(cell.get_height() * 1.8)


def _draw_chart(fig: Figure, rect: Rect, chart: Chart) -> None:
    ax = fig.add_axes(rect)
    pairs = [(label, v) for label, v in zip(chart.labels, chart.values, strict=True) if v is not None]
    ax.set_title(chart.title, fontsize=10)
    if not pairs:
        ax.axis("off")
        ax.text(0.5, 0.5, "（本期无数据）", ha="center", va="center")
        return
    labels = [p[0] for p in pairs][::-1]
    values = [float(p[1]) for p in pairs][::-1]
    ax.barh(range(len(values)), values, color="#4c72b0")
    ax.set_yticks(range(len(values)), labels, fontsize=7)
    ax.tick_params(axis="x", labelsize=7)
    for i, v in enumerate(values):
        ax.text(v, i, " " + cell_text(v, chart.kind), va="center", fontsize=6)
    ax.set_xlim(0, max(values) * 1.15 if max(values) > 0 else 1)


def _page(pdf: PdfPages, report: Report, title: str) -> Figure:
    # Figures made directly, not through pyplot: no global state, no GUI backend, safe off the main thread.
    fig = Figure(figsize=PAGE)
    fig.text(0.04, 0.955, title, fontsize=13, weight="bold")
    fig.text(
        0.04,
        0.925,
        f"统计期间 {report.period.first_day} 至 {report.period.last_day}　上期 {report.previous.label}"
        f"　生成于 {report.generated_at.astimezone(SHANGHAI):%Y-%m-%d %H:%M}",
        fontsize=8,
        color="#444444",
    )
    fig.text(0.96, 0.02, f"第 {pdf.get_pagecount() + 1} 页", fontsize=7, ha="right", color="#666666")
    return fig


def write_pdf(report: Report, path: Path) -> Path:
    """Write the PDF to `path` (through a temporary file); raises PdfFontMissing without a CJK font."""
    font = cjk_font()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    # Type 3 glyphs: the CJK fonts come as OpenType collections, which PDF viewers warn about when embedded whole.
    with (
        matplotlib.rc_context({"font.family": font, "axes.unicode_minus": False, "pdf.fonttype": 3}),
        PdfPages(partial, metadata={"Title": report.heading, "Creator": "govpulse"}) as pdf,
    ):
        _title_page(pdf, report)
        for table in report.tables:
            pages = _pages(table)
            for i, (cols, rows) in enumerate(pages):
                suffix = f"（{i + 1}/{len(pages)}）" if len(pages) > 1 else ""
                fig = _page(pdf, report, table.title + suffix)
                _draw_table(fig, (0.04, 0.08, 0.92, 0.8), table, cols, rows)
                if table.note and i == len(pages) - 1:
                    fig.text(0.04, 0.05, table.note, fontsize=7, color="#555555")
                pdf.savefig(fig)
    partial.replace(path)
    return path


def _title_page(pdf: PdfPages, report: Report) -> None:
    fig = _page(pdf, report, report.heading)
    charts = report.charts[:2]
    if report.tables:
        first = report.tables[0]
        cols, rows = _pages(first)[0]
        width = 0.5 if charts else 0.92
        _draw_table(fig, (0.04, 0.08, width, 0.8), first, cols, rows)
    height = 0.8 / max(len(charts), 1)
    for i, chart in enumerate(charts):
        # The first chart on top.
        _draw_chart(fig, (0.66, 0.1 + (len(charts) - 1 - i) * height, 0.3, height - 0.1), chart)
    pdf.savefig(fig)
    if len(report.charts) > 2:
        fig = _page(pdf, report, "图表")
        for i, chart in enumerate(report.charts[2:4]):
            _draw_chart(fig, (0.1 + i * 0.45, 0.1, 0.35, 0.75), chart)
        pdf.savefig(fig)
