"""Read an uploaded CSV or XLSX file into rows of text cells under known columns.

Headers may be Chinese or English (指标 / indicator, 对象类型 / entity_kind,
对象 / entity, 期间 / period, 值 / value, 备注 / note); the first non-empty row
is the header and columns it does not name are ignored. A CSV may be UTF-8 (with
or without a BOM), GB18030 (what Chinese Excel writes when saving as CSV) or
UTF-16 with a BOM (Excel's "Unicode text", tab separated). An XLSX is read from
its first sheet with cached formula results, never evaluating anything.

Line numbers are spreadsheet row numbers, the header being row 1 when it is the
first row, so a refusal points at the row a person sees in Excel.

Pure: bytes in, a `Table` or `FileRefused` out.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from typing import Literal
from xml.etree.ElementTree import ParseError

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from streams.manual.model import DEFAULT_LIMITS, Cells, FileRefused, Limits, Table

#: Every header accepted for each column, compared after trimming and lower-casing.
HEADERS: dict[str, tuple[str, ...]] = {
    "indicator": ("indicator", "指标", "指标名", "指标名称", "指标代码"),
    "entity_kind": ("entity_kind", "kind", "对象类型", "类型"),
    "entity": ("entity", "对象", "对象编码", "对象代码", "单位", "单位编码"),
    "period": ("period", "期间", "周期", "统计期", "考核期"),
    "value": ("value", "值", "数值", "得分"),
    "note": ("note", "备注", "说明"),
}
REQUIRED = ("indicator", "entity", "period", "value")
_COLUMN_OF = {alias.lower(): column for column, aliases in HEADERS.items() for alias in aliases}
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the binary .xls of Excel 97-2003


def read_table(data: bytes, filename: str, limits: Limits = DEFAULT_LIMITS) -> Table:
    """The rows of an uploaded file; raises `FileRefused` when the file as a whole cannot be used."""
    if not data:
        raise FileRefused("empty", "the file is empty")
    if len(data) > limits.max_bytes:
        raise FileRefused("too_large", f"the file has {len(data)} bytes; at most {limits.max_bytes} are accepted")
    name = filename.lower()
    if data.startswith(_OLE_MAGIC) or name.endswith(".xls"):
        raise FileRefused("unknown_format", "an Excel 97-2003 .xls file: save it as .xlsx or as CSV")
    if data.startswith(_ZIP_MAGIC) or name.endswith(".xlsx"):
        return _xlsx(data, limits)
    if name.endswith((".csv", ".txt", ".tsv")) or not name.rpartition(".")[1]:
        return _csv(data, limits)
    raise FileRefused("unknown_format", f"{filename!r}: upload a .csv or .xlsx file")


# -- CSV -----------------------------------------------------------------------------------


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 with a BOM, UTF-16 with a BOM, UTF-8, then GB18030."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        # Valid UTF-8 is almost never GB18030 text by accident; the reverse is common, so UTF-8 goes first.
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise FileRefused("bad_encoding", f"the CSV is neither {' nor '.join(candidates)} text; save it as UTF-8 CSV")


def _csv(data: bytes, limits: Limits) -> Table:
    text, encoding = decode(data)
    if "\x00" in text:
        raise FileRefused("bad_encoding", "the CSV holds NUL characters; it is not a text file")
    first_line = text.split("\n", 1)[0]
    # Excel's "Unicode text" and some exports separate with tabs; a header with a tab and no comma says so.
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    try:
        rows = list(_numbered(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), limits))
    except csv.Error as exc:
        raise FileRefused("unreadable", f"the CSV cannot be read: {exc}") from None
    return _table("csv", encoding, rows, limits)


def _numbered(rows: Iterable[Sequence[str]], limits: Limits) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells), stopping once the file has more rows than any upload may have."""
    # The header and a few blank rows on top of the data rows.
    most = limits.max_rows + 1
    for number, row in enumerate(rows, 1):
        if number > most and any(cell.strip() for cell in row):
            raise FileRefused("too_many_rows", f"more than {limits.max_rows} rows; split the file")
        yield number, list(row)


# -- XLSX ----------------------------------------------------------------------------------


def _xlsx(data: bytes, limits: Limits) -> Table:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except zipfile.BadZipFile:
        raise FileRefused("unreadable", "not a valid .xlsx file (it is not a zip archive)") from None
    if unpacked > limits.max_unzipped_bytes:
        raise FileRefused("too_large", f"the workbook unpacks to {unpacked} bytes; at most {limits.max_unzipped_bytes}")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, TypeError, ParseError, OSError) as exc:
        raise FileRefused("unreadable", f"not a valid .xlsx file: {exc}") from None
    try:
        if not book.worksheets:
            raise FileRefused("unreadable", "the workbook has no sheet")
        sheet = book.worksheets[0]
        # One column beyond the limit, so a wider sheet is noticed rather than silently cut.
        cells = sheet.iter_rows(max_col=limits.max_columns + 1, values_only=True)
        rows = list(_numbered(([_text(value) for value in row] for row in cells), limits))
    except (KeyError, ValueError, TypeError, ParseError, zipfile.BadZipFile) as exc:
        raise FileRefused("unreadable", f"the sheet cannot be read: {exc}") from None
    finally:
        book.close()
    return _table("xlsx", "", rows, limits)


def _text(value: object) -> str:
    """A cell as the text a person would have typed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # an entity code or a whole score stored as a float
    if isinstance(value, datetime | date):
        # Excel turns a typed 2026-11 into the date 2026-11-01: read the first of a month back as that month.
        return f"{value.year}-{value.month:02d}" if value.day == 1 else value.strftime("%Y-%m-%d")
    return str(value)


# -- both ----------------------------------------------------------------------------------


def _table(fmt: Literal["csv", "xlsx"], encoding: str, numbered: list[tuple[int, list[str]]], limits: Limits) -> Table:
    filled = [(n, [cell.strip() for cell in row]) for n, row in numbered if any(cell.strip() for cell in row)]
    if not filled:
        raise FileRefused("empty", "the file has no header row")
    (_, header), body = filled[0], filled[1:]
    while not header[-1]:
        header.pop()  # a sheet's rows come padded to its widest row
    if len(header) > limits.max_columns:
        raise FileRefused("too_many_columns", f"more than {limits.max_columns} columns")
    columns: dict[int, str] = {}
    ignored: list[str] = []
    for index, title in enumerate(header):
        column = _COLUMN_OF.get(title.lower())
        if column is None:
            if title:
                ignored.append(title[: limits.max_cell_chars])
            continue
        if column in columns.values():
            raise FileRefused("missing_columns", f"two header cells name the column {column} ({title!r} is the second)")
        columns[index] = column
    missing = [c for c in REQUIRED if c not in columns.values()]
    if missing:
        wanted = "; ".join(f"{c}: {' / '.join(HEADERS[c])}" for c in missing)
        raise FileRefused("missing_columns", f"the header row lacks {', '.join(missing)} ({wanted})")
    if len(body) > limits.max_rows:
        raise FileRefused("too_many_rows", f"{len(body)} rows; at most {limits.max_rows} per file, split it")
    rows = [
        Cells(n, {column: row[index] if index < len(row) else "" for index, column in columns.items()})
        for n, row in body
    ]
    return Table(fmt, encoding, rows, ignored)
