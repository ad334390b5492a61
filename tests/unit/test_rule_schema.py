"""Alert rule files: the shipped rules load, every rule type parses, and broken files say file, rule and field."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import TypeAdapter

from agents.cli.rules import check
from streams.rules.durations import format_duration, parse_duration
from streams.rules.event_configs import AbsenceRuleConfig, DeadlineRuleConfig, FrequencyRuleConfig, PersistentRuleConfig
from streams.rules.indicator_configs import (
    CompositeRuleConfig,
    RatioRuleConfig,
    RuleRef,
    SpikeRuleConfig,
    ThresholdRuleConfig,
)
from streams.rules.loader import RuleError, load_rules, read_rules
from streams.rules.schema import RULE_TYPES, AnyRuleConfig
from streams.simulator.scenarios import DEFAULT_DURATION_S, SCENARIOS, Scenarios

RULES_DIR = Path(__file__).resolve().parents[2] / "alert_rules"
DOMAIN_FILES = {
    "queue": "queue.yaml",
    "windows": "windows.yaml",
    "evaluation": "evaluation.yaml",
    "video": "video.yaml",
    "data_quality": "data_quality.yaml",
}

_BASE = {"title": "测试规则", "severity": "warning"}
#: One valid rule of each type, as it would be written in YAML.
VALID: dict[str, dict[str, Any]] = {
    "threshold": {
        "domain": "queue",
        "indicator": "wait_p90_s",
        "window": "5m",
        "group_by": ["hall"],
        "op": ">",
        "threshold": 1800,
        "clear": 1200,
        "for": "10m",
        "message": "{hall} 等候 {value:.0f} 秒",
    },
    "ratio": {
        "domain": "evaluation",
        "indicator": "bad_review_rate",
        "denominator": "evaluations",
        "min_denominator": 40,
        "window": "1h",
        "group_by": ["city"],
        "op": ">",
        "threshold": 0.1,
    },
    "spike": {
        "domain": "queue",
        "indicator": "tickets_issued",
        "window": "5m",
        "group_by": ["hall"],
        "baseline": {"method": "window", "lookback": "7d", "same_time_of_day": True},
        "z": 3,
        "min_history": 5,
    },
    "absence": {
        "domain": "video",
        "stream": "video",
        "match": {"type": "node_heartbeat"},
        "key": "node_id",
        "expected_interval": "60s",
        "missed": 3,
    },
    "frequency": {
        "domain": "evaluation",
        "stream": "evaluation",
        "match": {"level": ["dissatisfied", "very_dissatisfied"]},
        "key": ["staff_id"],
        "count": 5,
        "within": "30m",
        "message": "{staff} 收到 {count} 条差评",
    },
    "persistent": {
        "domain": "video",
        "stream": "video",
        "match": {"type": "camera_probe"},
        "key": "camera_id",
        "state": {"status": ["black", "frozen"]},
        "for": "90m",
        "expire": "20m",
        "message": "{camera} {state_value} {state_for}",
    },
    "deadline": {"domain": "evaluation", "step": "case_rectified", "grace": "1d", "group_by": ["dept"]},
    "composite": {
        "domain": "queue",
        "group_by": ["hall"],
        "for": "5m",
        "all": [
            {"rule": "helper"},
            {"type": "threshold", "indicator": "idle_windows", "window": "5m", "op": ">=", "threshold": 3},
        ],
    },
}
#: The rule a composite snippet refers to.
HELPER = {"id": "helper", "type": "threshold", **_BASE, **VALID["threshold"]}


def rule(rule_id: str, rule_type: str, **changes: Any) -> dict[str, Any]:
    """A valid rule of `rule_type`, with fields changed (None removes one)."""
    out = {"id": rule_id, "type": rule_type, **_BASE, **VALID[rule_type]}
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def write(folder: Path, name: str, rules: list[Any], **top: Any) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump({**top, "rules": rules}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# -- the shipped rules -----------------------------------------------------------------


def test_shipped_rules_load_without_errors() -> None:
    """alert_rules/ loads with no error, one file per domain, every rule type used at least once."""
    rules = load_rules(RULES_DIR)
    assert {p.name for p in rules.files} == set(DOMAIN_FILES.values())
    assert {r.type for r in rules} == set(RULE_TYPES)
    for r in rules:
        assert rules.source_of(r.id).name == DOMAIN_FILES[r.domain], r.id


def test_shipped_rules_are_set_off_by_the_simulator_scenarios() -> None:
    """Each simulator scenario, at its default size and duration, crosses the rule written to catch it."""
    rules = load_rules(RULES_DIR)
    burst = inspect.signature(Scenarios._bad_review_burst).parameters["count"].default
    brushing = inspect.signature(Scenarios._evaluation_brushing).parameters["count"].default

    def frequency(rule_id: str) -> FrequencyRuleConfig:
        found = rules.get(rule_id)
        assert isinstance(found, FrequencyRuleConfig)
        return found

    for rule_id in ("staff_bad_review_burst", "hall_bad_review_burst"):
        assert frequency(rule_id).count <= burst and frequency(rule_id).within >= DEFAULT_DURATION_S["bad_review_burst"]
    assert frequency("device_brushing").count <= brushing
    assert frequency("device_brushing").within >= DEFAULT_DURATION_S["evaluation_brushing"]
    node = rules.get("node_offline")
    assert isinstance(node, AbsenceRuleConfig) and node.silence_s < DEFAULT_DURATION_S["node_offline"]
    queue = rules.get("long_queue")
    assert isinstance(queue, ThresholdRuleConfig) and queue.indicator == "queue_waiting"
    assert queue.for_ < DEFAULT_DURATION_S["long_queue"]
    text = "".join(p.read_text(encoding="utf-8") for p in RULES_DIR.glob("*.yaml"))
    assert all(f"`{name}`" in text for name in SCENARIOS), "a rule comment names each scenario it catches"


def test_loaded_rules_dump_and_validate_back_unchanged() -> None:
    """A rule dumped by alias (durations as text) validates back to an equal rule."""
    adapter: TypeAdapter[Any] = TypeAdapter(AnyRuleConfig)
    for r in load_rules(RULES_DIR):
        assert adapter.validate_python(r.model_dump(by_alias=True)) == r


# -- each rule type ------------------------------------------------------------------


@pytest.mark.parametrize("rule_type", list(VALID))
def test_each_rule_type_parses_from_yaml(tmp_path: Path, rule_type: str) -> None:
    """A valid snippet of each type loads into its model, durations in seconds."""
    extra = [HELPER] if rule_type == "composite" else []
    write(tmp_path, "rules.yaml", [*extra, rule("sample", rule_type)])
    loaded = load_rules(tmp_path).get("sample")
    assert isinstance(loaded, RULE_TYPES[rule_type].config)
    if isinstance(loaded, ThresholdRuleConfig):
        assert (loaded.for_, loaded.every, loaded.clear_at) == (600, 60, 1200)
        assert loaded.fires(1801) and not loaded.fires(1800) and loaded.holds(1500) and not loaded.holds(1200)
    if isinstance(loaded, RatioRuleConfig):
        assert (loaded.denominator, loaded.min_denominator, loaded.clear_at) == ("evaluations", 40, 0.1)
    if isinstance(loaded, SpikeRuleConfig):
        assert loaded.baseline.method == "window" and loaded.baseline.lookback == 7 * 86_400
    if isinstance(loaded, AbsenceRuleConfig):
        assert (loaded.key, loaded.group_by, loaded.silence_s, loaded.expect) == (
            ("node_id",),
            ("node",),
            180,
            "registry",
        )
        assert loaded.match == {"type": ("node_heartbeat",)}
    if isinstance(loaded, FrequencyRuleConfig):
        assert (loaded.key, loaded.group_by, loaded.count, loaded.within) == (("staff_id",), ("staff",), 5, 1800)
    if isinstance(loaded, PersistentRuleConfig):
        assert (loaded.group_by, loaded.state, loaded.for_, loaded.expire) == (
            ("camera",),
            {"status": ("black", "frozen")},
            5400,
            1200,
        )
    if isinstance(loaded, DeadlineRuleConfig):
        assert (loaded.step, loaded.any_next_step, loaded.grace) == ("case_rectified", False, 86_400)
    if isinstance(loaded, CompositeRuleConfig):
        assert loaded.conditions[0] == RuleRef(rule="helper") and loaded.conditions[1].indicator == "idle_windows"


def test_file_defaults_fill_rules_and_merge_labels(tmp_path: Path) -> None:
    """defaults give unset fields to every rule; labels merge with the rule's own winning."""
    defaults = {
        "routes": ["webhook:duty"],
        "labels": {"team": "ops", "tier": "1"},
        "cooldown": "30m",
        "schedule": {"opening": "09:00-12:00,13:30-17:30", "working_days_only": True},
    }
    own = rule("own", "threshold", routes=["email:ops"], labels={"tier": "2"}, schedule="always")
    write(tmp_path, "rules.yaml", [rule("plain", "threshold"), own], defaults=defaults)
    rules = load_rules(tmp_path)
    plain, mine = rules.get("plain"), rules.get("own")
    assert plain is not None and mine is not None
    assert plain.routes == ("webhook:duty",) and plain.cooldown == 1800 and plain.labels == {"team": "ops", "tier": "1"}
    assert plain.schedule.spans == ((32_400, 43_200), (48_600, 63_000)) and plain.schedule.working_days_only
    assert mine.routes == ("email:ops",) and mine.labels == {"team": "ops", "tier": "2"} and mine.schedule.always


def test_durations_parse_to_seconds_and_junk_is_refused() -> None:
    """90s, 10m, 2h, 1d and 1h30m parse to seconds and back; bare numbers and other text do not."""
    assert [parse_duration(t) for t in ("90s", "10m", "2h", "1d", "1h30m", "0s")] == [90, 600, 7200, 86_400, 5400, 0]
    assert format_duration(5400) == "1h30m"
    for junk in (10, "10", "10 min", "1m1h", "", "-5m", True, "5w"):
        with pytest.raises(ValueError):
            parse_duration(junk)


# -- broken rules ----------------------------------------------------------------------

#: (case, the broken rule, what its error line says after "rule broken: ").
BROKEN: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown key",
        rule("broken", "threshold", treshold=5),
        "threshold.treshold: unknown key; did you mean 'threshold'?",
    ),
    ("unknown type", rule("broken", "threshold", type="thresold"), "type: unknown rule type 'thresold'"),
    (
        "unknown indicator",
        rule("broken", "threshold", indicator="wait_p99_s"),
        "threshold.indicator: unknown indicator",
    ),
    (
        "window the indicator lacks",
        rule("broken", "threshold", indicator="suspicious_evaluation_share", window="5m", threshold=0.05),
        "threshold.window: suspicious_evaluation_share has no 5m window",
    ),
    (
        "group_by the indicator cannot do",
        rule("broken", "threshold", indicator="overdue_cases", window="1h", threshold=3),
        "threshold.group_by: overdue_cases cannot be grouped by hall",
    ),
    (
        "clear on the wrong side",
        rule("broken", "threshold", clear=2000),
        "threshold.clear: must be below threshold 1800 for op '>'",
    ),
    ("bad duration", rule("broken", "threshold", **{"for": "10 minutes"}), "threshold.for: write a duration like"),
    ("bare number as duration", rule("broken", "frequency", within=600), "frequency.within: write a duration like"),
    (
        "unknown placeholder",
        rule("broken", "threshold", message="{hall} {valu}"),
        "threshold.message: unknown placeholder {valu}",
    ),
    ("frequency without key", rule("broken", "frequency", key=None), "frequency.key: required"),
    ("ratio without denominator", rule("broken", "ratio", denominator=None), "ratio.denominator: required"),
    (
        "ratio of a non-ratio",
        rule("broken", "ratio", indicator="wait_p90_s"),
        "ratio.indicator: wait_p90_s is measured in s",
    ),
    (
        "ratio threshold as percent",
        rule("broken", "ratio", threshold=10),
        "ratio.threshold: bad_review_rate is a fraction",
    ),
    (
        "schedule with bad hours",
        rule("broken", "threshold", schedule={"opening": "09:00-25:00"}),
        "threshold.schedule.opening: '09:00-25:00' is not a time of day",
    ),
    (
        "schedule spans reversed",
        rule("broken", "threshold", schedule={"opening": "17:30-13:30"}),
        "threshold.schedule.opening: '17:30-13:30' ends before it starts",
    ),
    (
        "match value the stream never has",
        rule("broken", "frequency", match={"level": "angry"}),
        "frequency.match.level: 'angry' is not a possible level",
    ),
    (
        "key the events lack",
        rule("broken", "absence", match={}, key="camera_id"),
        "absence.key: node_heartbeat events have no camera_id",
    ),
    (
        "group_by unlike the key",
        rule("broken", "frequency", group_by=["hall"]),
        "frequency.group_by: a frequency rule is grouped by its key",
    ),
    (
        "unknown series",
        rule(
            "broken",
            "threshold",
            indicator="rejected_share",
            series=["dupe"],
            group_by=["source"],
            threshold=0.1,
            clear=None,
        ),
        "threshold.series: unknown reason 'dupe'",
    ),
    ("spike with z and score", rule("broken", "spike", score=0.5), "spike.z: give either z"),
    ("spike with neither z nor score", rule("broken", "spike", z=None), "spike.z: give z (spreads"),
    (
        "spike alpha outside (0, 1)",
        rule("broken", "spike", baseline={"method": "ewma", "alpha": 1.5}),
        "spike.baseline.alpha: Input should be less than 1",
    ),
    (
        "spike seasonal period on a 1d window",
        rule("broken", "spike", window="1d", baseline={"method": "seasonal", "period": "day"}),
        "spike.baseline.period: a 1d window has no time of day",
    ),
    (
        "spike history too short for min_history",
        rule("broken", "spike", baseline={"method": "ewma", "alpha": 0.1}, min_history=30, history="1h"),
        "spike.history: 1h holds at most 12 windows of 5m, fewer than min_history 30",
    ),
    (
        "spike history too short for min_samples",
        rule("broken", "spike", baseline={"method": "seasonal", "period": "week", "min_samples": 4}, history="21d"),
        "spike.history: 21d holds 3 working-day values of each slot, fewer than min_samples 4",
    ),
    (
        "spike factor going down",
        rule("broken", "spike", factor=2, direction="down", min_value=1),
        "spike.factor: only with direction up",
    ),
    (
        "spike factor over a baseline that can be zero",
        rule("broken", "spike", factor=2),
        "spike.factor: tickets_issued can be 0, and any value is 2 times 0",
    ),
    (
        "spike window baseline of two windows",
        rule("broken", "spike", window="1h", baseline={"method": "window", "lookback": "2h"}, min_history=2),
        "spike.baseline.lookback: holds 2 windows of 1h; a window baseline needs at least 3",
    ),
    (
        "spike baseline too large to keep",
        rule("broken", "spike", baseline={"method": "window", "lookback": "100d"}),
        "spike.baseline: would keep 28800 values per entity, more than 18432",
    ),
    (
        "spike seasonal slot not a whole number of windows",
        rule("broken", "spike", baseline={"method": "seasonal", "period": "day", "slot": "7m"}),
        "spike.baseline.slot: must be a whole number of 5m windows and divide a day evenly",
    ),
    (
        "spike cusum held for a window",
        rule("broken", "spike", baseline={"method": "cusum"}, **{"for": "5m"}),
        "spike.for: a CUSUM takes a shift as the new normal",
    ),
    ("deadline with both", rule("broken", "deadline", any_next_step=True), "deadline.step: give either step"),
    (
        "inline condition of a composite",
        rule(
            "broken",
            "composite",
            all=[
                {"rule": "helper"},
                {"type": "threshold", "indicator": "idle_windows", "window": "1w", "op": ">=", "threshold": 3},
            ],
        ),
        "composite.all.1.window: Input should be '5m', '1h' or '1d'",
    ),
    (
        "composite of a missing rule",
        rule("broken", "composite", all=[{"rule": "helper"}, {"rule": "nowhere"}]),
        "composite.all.1.rule: no rule 'nowhere'",
    ),
    ("scope garbage", rule("broken", "threshold", scope="city:guangzhou"), "threshold.scope: scope 'city:guangzhou'"),
    (
        "state value the stream never has",
        rule("broken", "persistent", state={"status": ["purple"]}),
        "persistent.state.status: 'purple' is not a possible status",
    ),
    (
        "interval field the events lack",
        rule("broken", "absence", interval_field="period"),
        "absence.interval_field: video events have no field 'period'",
    ),
    (
        "scope the events cannot be placed in",
        rule("broken", "absence", scope="dept:D440100-01"),
        "absence.scope: video events cannot be placed in a dept scope",
    ),
]


@pytest.mark.parametrize(("case", "broken", "expected"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_broken_rule_names_file_rule_and_field(
    tmp_path: Path, case: str, broken: dict[str, Any], expected: str
) -> None:
    """A broken rule is reported as '<file>: rule <id>: <type>.<field>: <why>'; the valid rules beside it still load."""
    path = write(tmp_path, "queue.yaml", [HELPER, broken])
    rules, errors = read_rules(tmp_path)
    assert any(line.startswith(f"{path}: rule broken: {expected}") for line in errors), errors
    assert rules.get("helper") is not None and rules.get("broken") is None
    with pytest.raises(RuleError, match="rule broken"):
        load_rules(path)


def test_duplicate_id_across_files_names_both_files(tmp_path: Path) -> None:
    """The same id in two files is an error naming both; the first one is kept."""
    first = write(tmp_path, "a.yaml", [rule("same", "threshold")])
    second = write(tmp_path, "b.yaml", [rule("same", "frequency")])
    rules, errors = read_rules(tmp_path)
    assert errors == [f"{second}: rule same: id: already used in {first}; ids are unique across files"]
    assert rules.source_of("same") == first


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    """Broken YAML, or a key written twice in one rule, is reported with the file and the line."""
    bad = tmp_path / "queue.yaml"
    bad.write_text("rules:\n  - id: x\n    title: [unclosed\n  - id: y\n", encoding="utf-8")
    twice = tmp_path / "video.yaml"
    twice.write_text("rules:\n  - id: x\n    for: 1m\n    for: 2m\n", encoding="utf-8")
    _, errors = read_rules(tmp_path)
    assert errors[0].startswith(f"{bad}: line 4: not valid YAML:")
    assert errors[1] == f"{twice}: line 4: not valid YAML: found duplicate key 'for'"


def test_rule_without_id_or_type_is_named_by_position(tmp_path: Path) -> None:
    """A rule with no id is named by its position, and a missing type says which types exist."""
    path = write(tmp_path, "rules.yaml", [rule("fine", "threshold"), {"title": "没有类型"}])
    _, errors = read_rules(tmp_path)
    assert errors == [f"{path}: rule #2: type: required; use one of {', '.join(RULE_TYPES)}"]


def test_scorecards_subfolder_is_ignored(tmp_path: Path) -> None:
    """YAML in a subfolder (the scorecards) is not read as rules; only the folder's own *.yaml and *.yml are."""
    shutil.copytree(RULES_DIR / "scorecards", tmp_path / "scorecards")
    write(tmp_path, "queue.yml", [rule("only", "threshold")])
    (tmp_path / "notes.md").write_text("not rules", encoding="utf-8")
    rules = load_rules(tmp_path)
    assert [r.id for r in rules] == ["only"] and [p.name for p in rules.files] == ["queue.yml"]


# -- govpulse rules check --------------------------------------------------------------


def test_check_prints_every_error_of_every_file_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """check() on a folder with two bad files prints one line per error of both and returns 1."""
    queue = write(tmp_path, "queue.yaml", [rule("wait", "threshold", clear=2000), rule("typo", "threshold", op="=>")])
    video = write(tmp_path, "video.yaml", [rule("beat", "absence", expected_interval="1 minute")])
    assert check(tmp_path) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"{queue}: rule wait: threshold.clear: must be below threshold 1800 for op '>', got 2000",
        f"{queue}: rule typo: threshold.op: Input should be '>', '>=', '<' or '<='",
        f"{video}: rule beat: absence.expected_interval: write a duration like 90s, 10m, 2h or 1d"
        + " (units d, h, m, s in that order), got '1 minute'",
    ]
    assert lines[3] == "3 errors in 2 files"


def test_check_summarises_valid_rules(capsys: pytest.CaptureFixture[str]) -> None:
    """check() on the shipped rules returns 0 and counts them per type and domain."""
    assert check(RULES_DIR) == 0
    out = capsys.readouterr().out
    assert f"{len(load_rules(RULES_DIR))} rules in 5 files OK" in out
    assert "by type:" in out and "composite 1" in out and "by domain:" in out
