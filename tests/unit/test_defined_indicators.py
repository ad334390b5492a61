"""Ops-defined indicators: the expression language, its units, and the checks of an indicator file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streams.indicators.catalog import INDICATORS
from streams.indicators.defined_loader import read_defined
from streams.indicators.formula import FormulaError, Name, Number, names, parse, unit_of
from streams.indicators.installed import BUILT_INS, install, installed

SHIPPED = Path(__file__).resolve().parents[2] / "alert_rules" / "indicators"


def formula(name: str, expression: str, unit: str = "ratio", **fields: Any) -> dict[str, Any]:
    entry = {
        "name": name,
        "kind": "formula",
        "title_zh": "测试",
        "unit": unit,
        "direction": "lower_better",
        "expression": expression,
        "scopes": ["province", "city"],
        "windows": ["1h", "1d"],
        "definition": "test",
    }
    return entry | fields


def write(folder: Path, entries: list[dict[str, Any]], file: str = "test.yaml") -> Path:
    path = folder / file
    path.write_text(yaml.safe_dump({"indicators": entries}, allow_unicode=True), encoding="utf-8")
    return path


def errors_of(folder: Path) -> list[str]:
    return read_defined(folder, BUILT_INS)[1]


@pytest.fixture(autouse=True)
def _catalogue_as_built() -> Any:
    """Every test leaves the catalogue holding the built-in indicators only."""
    yield
    install(read_defined(Path("/nonexistent"), BUILT_INS)[0])


# -- the expression language ----------------------------------------------------------


def test_the_language_is_names_numbers_arithmetic_and_parentheses() -> None:
    """Names, numbers, + - * /, parentheses and unary minus parse; the names come out once each, in order."""
    expr = parse("-(overdue_cases + 2.5) / open_cases * overdue_cases - 1")
    assert names(expr) == ["overdue_cases", "open_cases"]
    assert parse("x") == Name("x") and parse("3") == Number(3.0)


@pytest.mark.parametrize(
    ("text", "offending"),
    [
        ("evaluations ** 2", "evaluations ** 2"),
        ("max(evaluations, 1)", "max(evaluations, 1)"),
        ("evaluations.real", "evaluations.real"),
        ("evaluations > 1", "evaluations > 1"),
        ("evaluations if 1 else 2", "evaluations if 1 else 2"),
        ("'evaluations'", "'evaluations'"),
        ("True * evaluations", "True"),
        ("__import__('os')", "__import__('os')"),
        ("+evaluations", "+evaluations"),
        ("evaluations // 2", "evaluations // 2"),
    ],
)
def test_anything_else_is_refused_naming_the_offending_text(text: str, offending: str) -> None:
    """Calls, attributes, comparisons, powers, strings, booleans and the rest are refused with their own text."""
    with pytest.raises(FormulaError, match="is not allowed") as exc:
        parse(text)
    assert repr(offending) in str(exc.value)


def test_a_syntax_error_is_refused() -> None:
    with pytest.raises(FormulaError, match="not an expression"):
        parse("evaluations +")


# -- units ----------------------------------------------------------------------------

UNITS = {"n": "tickets", "m": "evaluations", "r": "ratio", "w": "s", "v": "s", "p": "points"}


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("n / n", "ratio"),
        ("m / n", "ratio"),
        ("w / v", "ratio"),
        ("n * 2", "tickets"),
        ("2 * n", "tickets"),
        ("n / 4", "tickets"),
        ("r * m", "evaluations"),
        ("m * r", "evaluations"),
        ("1 - r", "ratio"),
        ("r + r", "ratio"),
        ("w + v", "s"),
        ("-n", "tickets"),
        ("(w - v) / v", "ratio"),
        ("p / 100", "points"),
    ],
)
def test_the_unit_algebra(text: str, unit: str) -> None:
    assert unit_of(parse(text), UNITS) == unit


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("n + m", "cannot add tickets and evaluations"),
        ("w - n", "cannot subtract s and tickets"),
        ("n + 1", "cannot add tickets and number"),
        ("n * m", "cannot multiply tickets and evaluations"),
        ("w / n", "cannot divide s and tickets"),
        ("1 / n", "cannot divide number and tickets"),
        ("p / w", "cannot divide points and s"),
    ],
)
def test_units_that_do_not_mix_are_refused(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        unit_of(parse(text), UNITS)


# -- indicator files ------------------------------------------------------------------


def test_the_shipped_file_is_valid_and_defines_the_manual_inspection_score() -> None:
    defined, errors = read_defined(SHIPPED, BUILT_INS)
    assert errors == []
    assert {"bad_reviews", "overdue_case_share", "wait_to_service_ratio"} <= set(defined.indicators)
    score = defined.indicators["onsite_inspection_score"]
    assert (score.family, score.unit, score.windows, score.scopes) == ("manual", "points", ("1d",), ("city", "dept"))
    assert score.defined is not None and (score.defined.period, score.defined.min, score.defined.max) == (
        "month",
        0,
        100,
    )


def test_a_cycle_is_refused_naming_the_cycle(tmp_path: Path) -> None:
    """A formula indicator with a cycle is refused; the message names the cycle, and a formula using it is refused."""
    file = write(
        tmp_path,
        [
            formula("aaa", "bbb * 2"),
            formula("bbb", "ccc + 0"),
            formula("ccc", "aaa - 0"),
            formula("ddd", "aaa * 1"),
            formula("fine", "overdue_cases / open_cases"),
        ],
    )
    defined, errors = read_defined(tmp_path, BUILT_INS)
    assert f"{file}: indicator aaa: expression: cycle among formula indicators: aaa → bbb → ccc → aaa" in errors
    assert sum("cycle among formula indicators" in line for line in errors) == 3
    assert f"{file}: indicator ddd: expression: uses aaa, which is refused" in errors
    assert list(defined.indicators) == ["fine"]


def test_a_self_reference_is_a_cycle(tmp_path: Path) -> None:
    write(tmp_path, [formula("selfish", "selfish / open_cases")])
    assert any("cycle among formula indicators: selfish → selfish" in line for line in errors_of(tmp_path))


def test_unknown_names_are_refused_with_a_suggestion(tmp_path: Path) -> None:
    file = write(tmp_path, [formula("share", "overdue_case / open_cases")])
    assert errors_of(tmp_path) == [
        f"{file}: indicator share: expression: unknown indicator 'overdue_case' (did you mean overdue_cases?)"
    ]


def test_a_name_of_a_built_in_is_refused(tmp_path: Path) -> None:
    file = write(tmp_path, [formula("open_cases", "overdue_cases / open_cases")])
    assert errors_of(tmp_path) == [
        f"{file}: indicator open_cases: name: clashes with the built-in indicator open_cases; choose another name"
    ]


def test_a_name_is_defined_once_across_files(tmp_path: Path) -> None:
    write(tmp_path, [formula("share", "overdue_cases / open_cases")], "a.yaml")
    second = write(tmp_path, [formula("share", "overdue_cases / open_cases")], "b.yaml")
    assert errors_of(tmp_path) == [
        f"{second}: indicator share: name: already defined in {tmp_path / 'a.yaml'}; names are unique across files"
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (formula("share", "overdue_cases + satisfaction_rate"), "expression: (overdue_cases + satisfaction_rate): "),
        (formula("share", "overdue_cases / open_cases", unit="cases"), "unit: the expression gives ratio, not cases"),
        (formula("share", "1 / 2"), "expression: names no indicator"),
        (
            formula("share", "satisfaction_rate * 1", scopes=["city", "source"]),
            "scopes: satisfaction_rate has no source",
        ),
        (
            formula("share", "satisfaction_rate - suspicious_evaluation_share", windows=["5m"]),
            "windows: suspicious_evaluation_share has no 5m",
        ),
        (formula("share", "rejected_share * 1"), "rejected_share has one series per reason; it cannot be an operand"),
        (formula("share", "overdue_cases / open_cases", period="month"), "period: not a field of a formula indicator"),
        (formula("Share", "overdue_cases / open_cases"), "name: String should match pattern"),
    ],
)
def test_each_refusal_names_file_indicator_and_reason(tmp_path: Path, entry: dict[str, Any], message: str) -> None:
    write(tmp_path, [entry])
    errors = errors_of(tmp_path)
    assert len(errors) == 1 and message in errors[0], errors
    assert errors[0].startswith(f"{tmp_path / 'test.yaml'}: indicator {entry['name']}: ")


def test_bad_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("indicators: [\n  - name: x\n", encoding="utf-8")
    (tmp_path / "shape.yaml").write_text("rules: []\n", encoding="utf-8")
    errors = errors_of(tmp_path)
    assert errors[0].startswith(f"{tmp_path / 'broken.yaml'}: not valid YAML: ")
    assert errors[1] == f"{tmp_path / 'shape.yaml'}: a file holds one key, indicators: a list of indicators"


def test_formulas_may_use_formulas_and_manual_indicators(tmp_path: Path) -> None:
    """Operands may be defined later in the file; a formula's scopes, windows and groups come from its operands."""
    manual = {
        "name": "inspection",
        "kind": "manual",
        "title_zh": "检查",
        "unit": "points",
        "direction": "higher_better",
        "scopes": ["city", "dept"],
        "period": "quarter",
        "definition": "test",
    }
    write(
        tmp_path,
        [
            formula("doubled", "halved * 4", unit="points", scopes=["city"], windows=["1d"]),
            formula("halved", "inspection / 2", unit="points", scopes=["city"], windows=["1d"]),
            manual,
        ],
    )
    defined, errors = read_defined(tmp_path, BUILT_INS)
    assert errors == []
    assert defined.indicators["doubled"].group_kinds == ("city", "dept")


def test_install_adds_to_the_one_catalogue_and_replaces_what_it_added(tmp_path: Path) -> None:
    write(tmp_path, [formula("share", "overdue_cases / open_cases")])
    install(read_defined(tmp_path, BUILT_INS)[0])
    assert INDICATORS["share"].describe()["kind"] == "formula"
    assert INDICATORS["share"].describe()["expression"] == "overdue_cases / open_cases"
    assert INDICATORS["open_cases"].describe()["kind"] == "built_in"
    write(tmp_path, [formula("other", "overdue_cases / open_cases")])
    install(read_defined(tmp_path, BUILT_INS)[0])
    assert "share" not in INDICATORS and "other" in INDICATORS and set(BUILT_INS) <= set(INDICATORS)
    assert list(installed().indicators) == ["other"]
