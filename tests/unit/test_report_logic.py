"""Report logic without storage: which periods are due, how days make a period's figure, what a spec may name,
and who may read which report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.center.reports_api import may_read
from streams.auth.access import Principal
from streams.indicators.catalog import INDICATORS
from streams.reports.figures import aggregate
from streams.reports.schedule import jobs, latest_closed
from streams.reports.spec import ReportSpecError, parse_spec
from streams.reports.tables import Table


def _at(local: str) -> datetime:
    """A Shanghai wall-clock time as UTC."""
    return datetime.fromisoformat(local + "+08:00").astimezone(UTC)


def test_a_period_is_due_two_hours_after_it_closes_in_shanghai() -> None:
    assert [p.label for p in latest_closed(_at("2026-12-01T01:59"))] == ["2026-10", "2026Q3", "2026H1", "2025"]
    assert [p.label for p in latest_closed(_at("2026-12-01T02:00"))] == ["2026-11", "2026Q3", "2026H1", "2025"]
    assert [p.label for p in latest_closed(_at("2027-01-01T02:00"))] == ["2026-12", "2026Q4", "2026H2", "2026"]
    # 2026-12-31T18:00Z is already 2027-01-01 02:00 in Shanghai.
    assert latest_closed(datetime(2026, 12, 31, 18, tzinfo=UTC))[3].label == "2026"


def test_a_closed_period_has_the_province_the_departments_and_every_city() -> None:
    period = latest_closed(_at("2026-12-06T10:00"))[0]
    made = jobs(period, [440100, 440300])
    assert [(j.level, j.city) for j in made] == [("province", None), ("dept", None), ("city", 440100), ("city", 440300)]


def test_days_make_a_period_by_total_mean_or_last_day() -> None:
    d = [datetime(2026, 11, day, tzinfo=UTC) for day in (1, 2, 3)]
    points = [(d[0], 2.0), (d[2], 4.0), (d[1], None)]
    assert aggregate("sum", points) == 6.0
    assert aggregate("mean", points) == 3.0  # the day without a value is not a zero
    assert aggregate("last", points) == 4.0
    assert aggregate("mean", [(d[0], None)]) is None
    assert aggregate("sum", [(d[0], float("nan"))]) is None


def _spec(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": "monitoring",
        "title": "报表",
        "city_scorecard": "province",
        "dept_scorecard": "departments",
        "indicators": [{"indicator": "tickets_issued", "aggregate": "sum", "display": "int"}],
    }
    return base | changes


def test_a_report_spec_names_indicators_that_have_a_daily_value() -> None:
    assert parse_spec(_spec(), "r.yaml", INDICATORS).indicators[0].indicator == "tickets_issued"
    for entry, reason in (
        ({"indicator": "nope", "aggregate": "sum"}, "no such indicator"),
        ({"indicator": "rejected_share", "aggregate": "mean"}, "one series per reason"),
        ({"indicator": "tickets_issued", "aggregate": "median"}, "aggregate"),
    ):
        with pytest.raises(ReportSpecError, match=reason):
            parse_spec(_spec(indicators=[entry]), "r.yaml", INDICATORS)
    twice = [{"indicator": "evaluations", "aggregate": "sum"}] * 2
    with pytest.raises(ReportSpecError, match="listed twice"):
        parse_spec(_spec(indicators=twice), "r.yaml", INDICATORS)
    with pytest.raises(ReportSpecError, match=r"r\.yaml"):
        parse_spec(_spec(top_alerts=0), "r.yaml", INDICATORS)


def test_the_shipped_report_spec_is_valid() -> None:
    from pathlib import Path

    from streams.reports.spec import load_spec

    spec = load_spec(Path(__file__).resolve().parents[2] / "alert_rules" / "reports" / "monitoring.yaml", INDICATORS)
    assert "national_pass_rate" in [e.indicator for e in spec.indicators]


def test_a_city_user_reads_only_their_own_citys_reports() -> None:
    province = Principal("p", "province_operator", None)
    viewer = Principal("v", "viewer", None)
    city_op = Principal("c", "city_operator", "440600")
    city_viewer = Principal("cv", "viewer", "440600")
    assert may_read(province, "province", None) and may_read(viewer, "city", 440300)
    for who in (city_op, city_viewer):
        assert may_read(who, "city", 440600) and may_read(who, "dept", 440600)
        assert not may_read(who, "province", None)
        assert not may_read(who, "dept", None)  # the provincial departments' report is the province's
        assert not may_read(who, "city", 440300)


def test_excel_sheet_names_are_at_most_31_characters() -> None:
    with pytest.raises(ValueError, match="31"):
        Table("x" * 32, "t", [])
    assert Table("x" * 31, "t", []).sheet


def test_latest_closed_moves_on_at_most_once_a_day() -> None:
    start = _at("2026-11-15T12:00")
    labels = {latest_closed(start + timedelta(hours=h))[0].label for h in range(24 * 10)}
    assert labels == {"2026-10"}
