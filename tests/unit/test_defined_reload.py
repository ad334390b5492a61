"""Hot reload of the defined indicators, and `govpulse rules check` over rules that read them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.cli.rules import check
from streams.indicators.catalog import INDICATORS
from streams.indicators.defined_loader import DefinedError, read_defined
from streams.indicators.installed import BUILT_INS, DefinedReloader, install
from streams.rules.loader import read_rules
from tests.unit.test_defined_indicators import formula, write


@pytest.fixture(autouse=True)
def _catalogue_as_built() -> Any:
    yield
    install(read_defined(Path("/nonexistent"), BUILT_INS)[0])


def _rule_file(folder: Path, indicator: str) -> Path:
    rule = {
        "id": "overdue_share_high",
        "type": "threshold",
        "title": "超期工单占比过高",
        "severity": "warning",
        "domain": "evaluation",
        "indicator": indicator,
        "window": "1h",
        "op": ">",
        "threshold": 0.2,
        "scope": "province",
        "group_by": ["city"],
        "message": "{city} 超期工单占比 {value}",
    }
    path = folder / "cases.yaml"
    path.write_text(yaml.safe_dump({"rules": [rule]}, allow_unicode=True), encoding="utf-8")
    return path


def _touch(path: Path) -> None:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_a_valid_change_replaces_the_set_and_an_invalid_one_is_refused(tmp_path: Path) -> None:
    """A valid edit replaces the defined indicators; a bad one is refused and reported, and the previous set stays."""
    file = write(tmp_path, [formula("share_a", "overdue_cases / open_cases")])
    reloader = DefinedReloader(tmp_path)
    reloader.load_initial()
    assert "share_a" in INDICATORS and reloader.poll() is None  # unchanged files are not re-read

    write(tmp_path, [formula("share_b", "overdue_cases / open_cases")])
    _touch(file)
    assert reloader.poll() is not None
    assert "share_b" in INDICATORS and "share_a" not in INDICATORS
    assert reloader.status.indicators == ["share_b"] and reloader.status.last_error == []

    write(tmp_path, [formula("share_c", "overdue_cases / nowhere")])
    _touch(file)
    assert reloader.poll() is None
    assert "share_b" in INDICATORS and "share_c" not in INDICATORS
    assert reloader.status.last_error == [f"{file}: indicator share_c: expression: unknown indicator 'nowhere'"]
    assert reloader.status.last_error_at is not None


def test_invalid_files_at_start_stop_the_start(tmp_path: Path) -> None:
    write(tmp_path, [formula("open_cases", "overdue_cases / open_cases")])
    with pytest.raises(DefinedError, match="clashes with the built-in"):
        DefinedReloader(tmp_path).load_initial()


def test_a_change_that_breaks_a_rule_is_refused_naming_the_rule(tmp_path: Path) -> None:
    """Deleting an indicator a rule reads is refused, the rule's problem quoted; the indicator stays."""
    rules, indicators = tmp_path / "rules", tmp_path / "rules" / "indicators"
    indicators.mkdir(parents=True)
    file = write(indicators, [formula("overdue_share", "overdue_cases / open_cases")])
    rule_file = _rule_file(rules, "overdue_share")
    reloader = DefinedReloader(indicators, lambda: read_rules(rules)[1])
    reloader.load_initial()
    assert read_rules(rules)[1] == []

    write(indicators, [formula("overdue_ratio", "overdue_cases / open_cases")])
    _touch(file)
    assert reloader.poll() is None
    assert "overdue_share" in INDICATORS and "overdue_ratio" not in INDICATORS
    assert reloader.status.last_error[0].endswith("refused: the rules would break with these indicators:")
    assert any(
        line.startswith(f"{rule_file}: rule overdue_share_high:") and "overdue_share" in line
        for line in reloader.status.last_error[1:]
    )


def test_rules_check_reads_the_indicators_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A threshold rule on a formula indicator passes `rules check`; the catalogue is as before afterwards."""
    (tmp_path / "indicators").mkdir()
    write(tmp_path / "indicators", [formula("overdue_share", "overdue_cases / open_cases")])
    _rule_file(tmp_path, "overdue_share")
    assert check(tmp_path) == 0
    out = capsys.readouterr().out
    assert "1 rules in 1 files OK" in out and "1 defined indicators in 1 file OK: formula 1" in out
    assert "overdue_share" not in INDICATORS


def test_rules_check_reports_indicator_and_rule_problems_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "indicators").mkdir()
    bad = write(tmp_path / "indicators", [formula("overdue_share", "overdue_cases + open_cases / 2")])
    _rule_file(tmp_path, "overdue_share")
    assert check(tmp_path) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{bad}: indicator overdue_share: unit: the expression gives cases, not ratio")
    assert "unknown indicator 'overdue_share'" in lines[1]
    assert lines[-1] == "2 errors in 2 files"


def test_a_scorecard_can_score_a_defined_indicator(tmp_path: Path) -> None:
    """Once installed, a formula indicator is a scorecard leaf like a built-in one."""
    from streams.indicators.scorecard import parse_scorecard

    write(tmp_path, [formula("overdue_share", "overdue_cases / open_cases", windows=["1d"])])
    install(read_defined(tmp_path, BUILT_INS)[0])
    leaf = {"indicator": "overdue_share", "weight": 1.0, "direction": "lower_better"}
    leaf |= {"normalization": "target", "best": 0.0, "worst": 0.5}
    dimension = {"name": "工单", "weight": 1.0, "children": [leaf]}
    card = {"name": "cases", "title": "工单", "levels": ["city"], "dimensions": [dimension]}
    assert parse_scorecard(card, "test").name == "cases"
