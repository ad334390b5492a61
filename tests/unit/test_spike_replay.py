"""Replaying one series through a spike rule, as live, and `govpulse rules score` on a CSV file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from agents.cli.rules import score
from streams.rules.loader import RuleError
from streams.rules.spike_replay import ReplayRow, load_rule, replay_series

T0 = datetime(2026, 11, 2, tzinfo=UTC)
STEP = timedelta(minutes=5)
SPIKE: dict[str, Any] = {
    "id": "late_spike",
    "type": "spike",
    "title": "迟到数据激增",
    "severity": "info",
    "domain": "data_quality",
    "indicator": "late_events",
    "window": "5m",
    "group_by": ["source"],
    "baseline": {"method": "ewma", "alpha": 0.1},
    "z": 3,
    "min_history": 10,
}


def rule_file(tmp_path: Path, **changes: Any) -> Path:
    path = tmp_path / "rules.yaml"
    other = {**SPIKE, "id": "not_spike", "type": "threshold", "op": ">", "threshold": 5}
    for key in ("baseline", "z", "min_history"):
        other.pop(key)
    path.write_text(yaml.safe_dump({"rules": [{**SPIKE, **changes}, other]}), encoding="utf-8")
    return path


def series(values: list[float]) -> list[tuple[datetime, float]]:
    return [(T0 + STEP * i, v) for i, v in enumerate(values)]


QUIET = [float(3 + i % 4) for i in range(30)]


def test_a_spike_fires_on_its_window_once_armed(tmp_path: Path) -> None:
    """A jump after 30 quiet windows fires on that row only; the same jump before min_history points does not."""
    rule = load_rule(rule_file(tmp_path), "late_spike")
    rows = replay_series(rule, series([*QUIET, 60.0, 4.0, 5.0]))
    assert [i for i, r in enumerate(rows) if r.firing] == [30]
    assert rows[30].score > 0.9 and all(r.score < 0.5 for r in rows[:30]) and rows[31].score < 0.5
    early = replay_series(rule, series([*QUIET[:5], 60.0]))
    assert not any(r.firing for r in early) and early[-1].score == 0.0
    assert rows[0] == ReplayRow(T0, 3.0, 0.0, False)


def test_for_and_cooldown_behave_as_live(tmp_path: Path) -> None:
    """With for 10m a lone spike never fires and three rising ones fire on the third; cooldown holds back the next."""
    held = load_rule(rule_file(tmp_path, **{"for": "10m"}), "late_spike")
    assert not any(r.firing for r in replay_series(held, series([*QUIET, 60.0, 4.0])))
    rows = replay_series(held, series([*QUIET, 60.0, 200.0, 800.0]))
    assert [i for i, r in enumerate(rows) if r.firing] == [32]
    twice = series([*QUIET, 60.0, 4.0, 5.0, 90.0])
    plain = replay_series(load_rule(rule_file(tmp_path), "late_spike"), twice)
    assert [i for i, r in enumerate(plain) if r.firing] == [30, 33]
    cooled = replay_series(load_rule(rule_file(tmp_path, cooldown="1h"), "late_spike"), twice)
    assert [i for i, r in enumerate(cooled) if r.firing] == [30]


def test_gaps_are_allowed_and_time_must_move_forward(tmp_path: Path) -> None:
    """Irregular intervals replay (points, not time, arm the rule); a row out of order or without zone is refused."""
    rule = load_rule(rule_file(tmp_path), "late_spike")
    gappy = [(T0 + STEP * i * i, v) for i, v in enumerate([*QUIET, 60.0])]
    assert replay_series(rule, gappy)[-1].firing
    with pytest.raises(ValueError, match="time order"):
        replay_series(rule, [(T0, 1.0), (T0, 2.0)])
    with pytest.raises(ValueError, match="timezone-aware"):
        replay_series(rule, [(T0.replace(tzinfo=None), 1.0)])


def test_load_rule_names_a_missing_id_or_another_rule_type(tmp_path: Path) -> None:
    """load_rule says which ids exist, refuses a rule of another type, and reports an invalid file's problems."""
    path = rule_file(tmp_path)
    with pytest.raises(RuleError, match="no rule 'nope'; its rules are late_spike, not_spike"):
        load_rule(path, "nope")
    with pytest.raises(RuleError, match="not_spike is a threshold rule"):
        load_rule(path, "not_spike")
    with pytest.raises(RuleError, match=r"spike\.z: give either z"):
        load_rule(rule_file(tmp_path, score=0.5), "late_spike")


def test_score_writes_a_row_per_window(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A header, times without a zone (Asia/Shanghai) and epoch seconds are read; out: timestamp,value,score,firing."""
    lines = ["timestamp,value"] + [f"2026-11-02T08:{5 * i:02d}:00,{v}" for i, v in enumerate(QUIET[:12])]
    lines += [f"{int((T0 + STEP * 12).timestamp())},60"]
    csv_path = tmp_path / "series.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scored.csv"
    assert score(csv_path, f"{rule_file(tmp_path)}:late_spike", out) == 0
    rows = out.read_text(encoding="utf-8").splitlines()
    assert rows[0] == "timestamp,value,score,firing" and len(rows) == 14
    assert rows[1] == "2026-11-02T08:00:00+08:00,3.0,0.000000,0"
    assert rows[-1].startswith("2026-11-02T01:00:00+00:00,60.0,0.9") and rows[-1].endswith(",1")


def test_score_reports_bad_rows_by_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Each bad row is named by its line and reason, and nothing is written; a bad --rule is refused too."""
    csv_path = tmp_path / "series.csv"
    csv_path.write_text("2026-11-02T08:00:00,1\n2026-11-02T08:05:00,x\n2026-11-02T08:00:00,2\nnoon,3,4\n")
    assert score(csv_path, f"{rule_file(tmp_path)}:late_spike") == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{csv_path}: line 2: value 'x' is not a number",
        f"{csv_path}: line 3: 2026-11-02T08:00:00+08:00 does not come after the row before, 2026-11-02T08:00:00+08:00",
        f"{csv_path}: line 4: expected 2 fields, timestamp,value; got 3",
    ]
    assert score(csv_path, "late_spike") == 1
    assert "write FILE:RULE_ID" in capsys.readouterr().err
