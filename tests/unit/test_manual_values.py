"""Manual indicator uploads: reading CSV and XLSX, refusing each bad row with its line, limits, and supersession."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import Workbook

from streams.auth.access import Principal
from streams.indicators.catalog import INDICATORS
from streams.indicators.defined import DefinedIndicator
from streams.indicators.manual_sql import manual_sql
from streams.indicators.model import Indicator
from streams.indicators.query import IndicatorQuery, QueryError
from streams.indicators.scorecard import parse_scorecard, score
from streams.manual.checks import ManualCatalog
from streams.manual.history import StoredValue, with_history
from streams.manual.model import DEFAULT_LIMITS, FileRefused, Limits
from streams.manual.reading import read_table
from streams.manual.upload import Upload, clean_file_name, prepare_upload
from streams.registry import Registry
from streams.registry.generate import generate

NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
ADMIN = Principal("ops", "admin", None)
SCORE = DefinedIndicator(
    name="onsite_inspection_score",
    kind="manual",
    title_zh="现场检查得分",
    unit="points",
    direction="higher_better",
    scopes=("city", "dept"),
    definition="Score of the month's on-site inspection.",
    period="month",
    min=0,
    max=100,
)
AUDIT = SCORE.model_copy(update={"name": "city_audit_grade", "scopes": ("city",), "period": "quarter"})
CATALOG = ManualCatalog({d.name: d for d in (SCORE, AUDIT)}, frozenset({"wait_p90_s"}))
HEADER = "indicator,entity_kind,entity,period,value,note\n"


@pytest.fixture(scope="module")
def registry() -> Registry:
    return generate(halls=150)


def upload(
    registry: Registry,
    body: str | bytes,
    name: str = "scores.csv",
    *,
    uploader: Principal = ADMIN,
    partial: bool = False,
    limits: Limits = DEFAULT_LIMITS,
) -> Upload:
    data = body.encode("utf-8") if isinstance(body, str) else body
    return prepare_upload(data, name, CATALOG, registry, uploader, NOW, partial=partial, limits=limits)


def test_a_good_csv_is_accepted_row_by_row(registry: Registry) -> None:
    """Every row becomes a value for its entity and period; nothing is refused and everything is to be stored."""
    body = HEADER + "onsite_inspection_score,city,440100,2026-11,92.5,spot check\n"
    body += "onsite_inspection_score,dept,D440700-07,2026-11,80,\n"
    result = upload(registry, body)
    assert result.status == "stored" and not result.refused
    city, dept = result.to_store
    assert (city.entity_kind, city.entity, city.city_code, city.period.label, city.value, city.note, city.line) == (
        "city",
        "440100",
        440100,
        "2026-11",
        92.5,
        "spot check",
        2,
    )
    assert (dept.entity, dept.city_code, dept.line) == ("D440700-07", 440700, 3)
    report = result.report()
    assert report["stored"] == 2 and report["encoding"] == "utf-8" and len(report["sha256"]) == 64


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        ("utf-8-sig", lambda text: text.encode("utf-8-sig")),
        ("gb18030", lambda text: text.encode("gb18030")),
        ("utf-16", lambda text: text.replace(",", "\t").encode("utf-16")),
    ],
)
def test_chinese_headers_in_every_encoding_excel_writes(registry: Registry, encoding: str, encoded: object) -> None:
    """A Chinese CSV with a BOM, in GB18030 (Excel's 'CSV' in China) or UTF-16 tab-separated text reads the same."""
    text = "指标,对象类型,对象,期间,值,备注\nonsite_inspection_score,城市,广州市,2026-10,88,现场检查\n"
    assert callable(encoded)
    table = read_table(encoded(text), "现场检查.csv")
    assert table.encoding == encoding
    assert table.rows[0].values == {
        "indicator": "onsite_inspection_score",
        "entity_kind": "城市",
        "entity": "广州市",
        "period": "2026-10",
        "value": "88",
        "note": "现场检查",
    }
    result = upload(registry, encoded(text), "现场检查.csv")
    assert [(v.entity, v.value, v.note) for v in result.to_store] == [("440100", 88.0, "现场检查")]


def test_an_xlsx_written_by_openpyxl_is_read_from_its_first_sheet(registry: Registry) -> None:
    """Numbers stay numbers, a month Excel turned into a date reads back as that month, rows keep their numbers."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["指标", "对象", "期间", "得分", "城市名称"])
    sheet.append(["onsite_inspection_score", 440300, datetime(2026, 11, 1), 75])
    sheet.append([])
    sheet.append(["onsite_inspection_score", "D440300-02", "2026-11", 66.5])
    buffer = io.BytesIO()
    book.save(buffer)
    result = upload(registry, buffer.getvalue(), "inspection.xlsx")
    assert result.format == "xlsx" and result.ignored_columns == ["城市名称"]
    assert [(v.entity_kind, v.entity, v.period.label, v.value, v.line) for v in result.to_store] == [
        ("city", "440300", "2026-11", 75.0, 2),
        ("dept", "D440300-02", "2026-11", 66.5, 4),
    ]


@pytest.mark.parametrize(
    ("row", "reason", "says"),
    [
        ("nope_score,city,440100,2026-11,90", "unknown_indicator", "unknown indicator 'nope_score'"),
        ("wait_p90_s,city,440100,2026-11,90", "not_manual", "computed from the streams"),
        ("onsite_inspection_score,county,440100,2026-11,90", "bad_entity_kind", "use city or dept"),
        ("city_audit_grade,dept,D440100-01,2026Q3,90", "entity_kind_not_in_scopes", "not per dept"),
        ("onsite_inspection_score,city,449900,2026-11,90", "unknown_entity", "not in the registry"),
        ("onsite_inspection_score,dept,D449900-01,2026-11,90", "unknown_entity", "not in the registry"),
        ("onsite_inspection_score,city,440100,2026-13,90", "bad_period", "not 01-12"),
        ("onsite_inspection_score,city,440100,2026Q4,90", "period_mismatch", "per month; 2026Q4 is a quarter"),
        ("onsite_inspection_score,city,440100,2027-01,90", "future_period", "has not started"),
        ("onsite_inspection_score,city,440100,2026-11,ninety", "not_a_number", "'ninety' is not a number"),
        ("onsite_inspection_score,city,440100,2026-11,nan", "not_a_number", "not a number"),
        ("onsite_inspection_score,city,440100,2026-11,100.5", "out_of_range", "outside onsite_inspection_score"),
        ("onsite_inspection_score,city,440100,2026-11,", "missing_field", "value is empty"),
        (f"onsite_inspection_score,city,440100,2026-11,90,{'备' * 201}", "cell_too_long", "note has 201"),
    ],
)
def test_each_bad_row_is_refused_with_its_line_and_reason(registry: Registry, row: str, reason: str, says: str) -> None:
    """The bad row is line 3 (after the header and a good row); by default nothing of the file is to be stored."""
    body = HEADER + "onsite_inspection_score,city,440200,2026-11,70\n" + row + "\n"
    result = upload(registry, body)
    assert [(r.line, r.reason) for r in result.refused] == [(3, reason)]
    assert says in result.refused[0].detail
    assert result.status == "refused" and result.to_store == [] and result.report()["stored"] == 0


def test_a_city_operator_uploads_rows_of_their_own_city_only(registry: Registry) -> None:
    """Their city and its departments pass; another city, another city's department and a provincial one do not."""
    operator = Principal("gz-duty", "city_operator", "440100")
    body = HEADER + "\n".join(
        [
            "onsite_inspection_score,city,440100,2026-11,90",
            "onsite_inspection_score,dept,D440100-03,2026-11,90",
            "onsite_inspection_score,city,440300,2026-11,90",
            "onsite_inspection_score,dept,D440300-03,2026-11,90",
            "onsite_inspection_score,dept,D440000-03,2026-11,90",
        ]
    )
    result = upload(registry, body, uploader=operator, partial=True)
    assert [(r.line, r.reason) for r in result.refused] == [(4, "other_city"), (5, "other_city"), (6, "other_city")]
    assert [v.entity for v in result.to_store] == ["440100", "D440100-03"]
    assert result.status == "stored_partially" and result.report()["stored"] == 2


def test_the_same_value_twice_in_one_file_refuses_every_copy(registry: Registry) -> None:
    """Which of two values for one entity and period was meant cannot be told, so both lines are refused."""
    body = HEADER + "onsite_inspection_score,,440100,2026-11,90\nonsite_inspection_score,city,440100,2026-11,91\n"
    body += "onsite_inspection_score,city,440200,2026-11,80\n"
    result = upload(registry, body, partial=True)
    assert [(r.line, r.reason) for r in result.refused] == [(2, "duplicate"), (3, "duplicate")]
    assert "also on line 3" in result.refused[0].detail
    assert [v.entity for v in result.to_store] == ["440200"]


def test_partial_stores_the_good_rows_and_lists_the_bad(registry: Registry) -> None:
    """With partial the answer says how many were stored; without it, none are, and every bad row is still listed."""
    body = HEADER + "onsite_inspection_score,city,440100,2026-11,90\nonsite_inspection_score,city,440100,2026-11x,1\n"
    body += "onsite_inspection_score,city,440200,2026-11,-1\n"
    whole = upload(registry, body)
    assert whole.status == "refused" and whole.report()["stored"] == 0 and len(whole.report()["refused"]) == 2
    partial = upload(registry, body, partial=True)
    assert partial.report()["stored"] == 1 and partial.report()["accepted"] == 1
    assert [r["line"] for r in partial.report()["refused"]] == [3, 4]


@pytest.mark.parametrize(
    ("data", "name", "limits", "reason"),
    [
        (b"", "a.csv", Limits(), "empty"),
        (HEADER.encode(), "a.csv", Limits(), "empty"),
        (b"x" * 101, "a.csv", Limits(max_bytes=100), "too_large"),
        (
            (HEADER + "onsite_inspection_score,city,440100,2026-11,1\n" * 4).encode(),
            "a.csv",
            Limits(max_rows=3),
            "too_many_rows",
        ),
        (",".join(f"c{i}" for i in range(30)).encode(), "a.csv", Limits(), "too_many_columns"),
        (b"indicator,entity,value\nx,y,1\n", "a.csv", Limits(), "missing_columns"),
        (b"indicator,entity,period,value,\xe5\x80\xbc\n", "a.csv", Limits(), "missing_columns"),
        (b"\xd0\xcf\x11\xe0rest", "old.xls", Limits(), "unknown_format"),
        (b"some,thing", "scores.pdf", Limits(), "unknown_format"),
        (b"PK\x03\x04 not really a zip", "a.xlsx", Limits(), "unreadable"),
        (b"indicator,value\n\x80abc", "a.csv", Limits(), "bad_encoding"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_whole(
    registry: Registry, data: bytes, name: str, limits: Limits, reason: str
) -> None:
    """Empty, too large, too many rows or columns, missing columns, a binary .xls or another format: nothing stored."""
    with pytest.raises(FileRefused) as caught:
        upload(registry, data, name, limits=limits)
    assert caught.value.reason == reason


def test_a_workbook_that_unpacks_past_the_limit_is_refused(registry: Registry) -> None:
    """A small .xlsx that would expand beyond the unpacked limit is refused before it is parsed."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["indicator", "entity", "period", "value"])
    for n in range(200):
        sheet.append(["onsite_inspection_score", "440100", "2026-11", n % 100])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(FileRefused) as caught:
        read_table(buffer.getvalue(), "big.xlsx", Limits(max_unzipped_bytes=10_000))
    assert caught.value.reason == "too_large"


def test_the_recorded_file_name_is_its_last_segment_and_printable() -> None:
    """Paths and control characters in a file name are not recorded."""
    assert clean_file_name("C:\\Users\\ops\\检查\x07.csv") == "检查.csv"
    assert clean_file_name("../../") == "upload"


def _stored(value: float, upload_id: str, at: datetime, entity: str = "440100") -> StoredValue:
    return StoredValue(
        "onsite_inspection_score",
        "city",
        entity,
        int(entity),
        "2026-11",
        date(2026, 11, 1),
        date(2026, 11, 30),
        value,
        "",
        upload_id,
        "ops",
        "admin",
        at,
        "f.csv",
        "0" * 64,
        2,
    )


def test_the_latest_upload_is_current_and_the_older_are_its_history() -> None:
    """Newest first; equal times are ordered by upload id; a retried write of one upload counts once."""
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        _stored(70, "a", t0),
        _stored(75, "b", t0 + timedelta(hours=1)),
        _stored(75, "b", t0 + timedelta(hours=1)),
        _stored(80, "c", t0 + timedelta(hours=1)),
        _stored(60, "a", t0, entity="440200"),
    ]
    gz, sg = with_history(rows)
    assert (gz["entity"], gz["value"], gz["upload_id"]) == ("440100", 80, "c")
    assert [(h["value"], h["upload_id"], h["superseded_by"]) for h in gz["history"]] == [(75, "b", "c"), (70, "a", "b")]
    assert (sg["entity"], sg["value"], sg["history"]) == ("440200", 60, [])


def test_the_manual_sql_reads_city_and_dept_values_per_day_only() -> None:
    """Window 1d only, and a city or dept scope (or a grouping): the province as a whole has no manual value."""
    sql = manual_sql(SCORE)
    now = datetime.now(UTC)

    def q(scope: str, window: str = "1d", group: str | None = None) -> IndicatorQuery:
        return IndicatorQuery.build(scope, window, now - timedelta(days=3), now, now, group)

    assert "argMax(value, (uploaded_at, upload_id))" in sql(q("city:440100"))
    assert "city_code = toUInt32" in sql(q("city:440100", group="dept"))
    for query, says in [
        (q("city:440100", window="1h"), "window 1d"),
        (q("province"), "one value per city or dept"),
        (q("hall:H1"), "not per hall"),
        (q("dept:D440100-01", group="city"), "cannot be grouped by city"),
    ]:
        with pytest.raises(QueryError, match=says):
            sql(query)


def test_a_scorecard_marks_the_leaves_scored_from_manual_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A manual leaf scores like any other and says `manual`; the system ones say `system`."""
    indicator = Indicator(
        SCORE.name, "manual", SCORE.title_zh, SCORE.unit, SCORE.definition, SCORE.scopes, ("1d",), manual_sql(SCORE)
    )
    monkeypatch.setitem(INDICATORS, SCORE.name, indicator)
    leaf = {"weight": 0.5, "direction": "higher_better", "normalization": "target", "best": 100, "worst": 0}
    card = parse_scorecard(
        {
            "name": "with_inspection",
            "title": "含现场检查",
            "levels": ["city"],
            "dimensions": [
                {
                    "name": "综合",
                    "weight": 1.0,
                    "children": [
                        {**leaf, "indicator": SCORE.name},
                        {**leaf, "indicator": "satisfaction_rate", "best": 1},
                    ],
                }
            ],
        },
        "test",
    )
    (result,) = score(card, {"440100": {SCORE.name: 80.0, "satisfaction_rate": 0.6}})
    assert result.total == pytest.approx(70)
    assert result.sources == {f"综合/{SCORE.name}": "manual", "综合/satisfaction_rate": "system"}
    described = card.describe()["dimensions"][0]["children"]
    assert [c["source"] for c in described] == ["manual", "system"]
