"""The anomaly benchmark's smoke runs in-process: every row is printed with numbers, and both targets are judged.

The figures of the small corpus mean little; this checks the bench works, not what it measures.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.bench.anomaly import corpus
from tests.bench.anomaly.baseline import WindowedGaussian
from tests.bench.anomaly.run import BASELINE, main, resample, rule_files, spike_rule_ids

NUMBER = re.compile(r"^-?\d[\d,]*(\.\d+)?$")
PERCENT = re.compile(r"^(\d+%|—)$")


def test_the_smoke_prints_a_row_of_numbers_for_the_baseline_and_every_spike_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = main(["--smoke", "--out", str(tmp_path)])

    expected = [BASELINE.label] + [rule_id for path in rule_files() for rule_id in spike_rule_ids(path)]
    assert "spike_default" in expected and len(expected) > 2
    table, kinds, families, judged = text.split("\n\n")
    cells = [[c.strip() for c in line.split(" | ")] for line in table.splitlines()[2:]]
    assert [row[0] for row in cells] == expected
    for name, score, precision, recall, false, firings in cells:
        assert NUMBER.match(score) and NUMBER.match(false) and NUMBER.match(firings), name
        assert PERCENT.match(precision) and PERCENT.match(recall), name
    for breakdown in (kinds, families):
        assert [line.split(" | ")[0].strip() for line in breakdown.splitlines()[2:]] == expected
    lines = judged.splitlines()
    assert len(lines) == 2 and all(line.endswith((" met", "NOT met")) for line in lines), judged

    labels = json.loads((tmp_path / "corpus-small" / "labels.json").read_text())
    assert len(labels["series"]) == corpus.SIZES["small"].series
    assert all(1 <= len(s["windows"]) <= 3 for s in labels["series"].values())
    assert json.loads((tmp_path / "anomaly.json").read_text())["targets"]
    assert "written" in capsys.readouterr().out


def test_the_corpus_is_the_same_from_the_same_seed_and_keeps_its_shape() -> None:
    size = corpus.Size(series=4, weeks=2)
    first, again = corpus.generate(size, seed=5), corpus.generate(size, seed=5)
    assert [(s.points, s.anomalies) for s in first] == [(s.points, s.anomalies) for s in again]
    assert [s.family for s in first] == ["count", "share", "latency", "flat"]
    for s in first:
        times = [at for at, _ in s.points]
        assert times == sorted(times) and all(at.utcoffset() is not None for at in times)
        assert s.start.weekday() == 0 and len(times) < 2 * 7 * 288  # a Monday; some windows are missing
        assert all(s.scored_from < a.start < a.end <= s.end for a in s.anomalies)
        if s.family == "share":
            assert all(0.0 <= v <= 1.0 for _, v in s.points)


def test_the_windowed_gaussian_scores_each_point_against_the_window_before_it_and_fires_where_it_reaches_1() -> None:
    detector = WindowedGaussian(window=4, step=2, threshold=1.0)
    values = [1.0, 3.0, 1.0, 3.0, 100.0, 100.0, 2.0]
    scores = detector.scores(values)
    # No window yet; then [1] (std 0, floored at 1e-6); [1, 3] mean 2 sd 1; [1, 3, 1]; [1, 3, 1, 3] full, kept
    # for two points; then slid by the step to [1, 3, 100, 100], mean 51 sd 49.005.
    assert scores[0] == 0.0 and scores[1] == 1.0
    assert scores[2] == pytest.approx(1 - 0.158655, abs=1e-6)  # z 1
    assert scores[3] == pytest.approx(1 - 0.0786496, abs=1e-6)  # z (3 - 5/3) / 0.9428 = √2
    assert scores[4] == scores[5] == 1.0
    assert scores[6] == pytest.approx(1 - 0.158677, abs=1e-5)  # z 49 / 49.005
    t0 = datetime.fromisoformat("2025-03-03T09:00:00+08:00")
    points = [(t0 + timedelta(minutes=5 * i), v) for i, v in enumerate(values)]
    assert detector.firings(points) == [points[1][0], points[4][0]]  # where it reaches 1 after a point below


def test_a_longer_window_is_replayed_on_the_series_resampled_to_it() -> None:
    t0 = datetime.fromisoformat("2025-03-03T09:00:00+08:00")
    rows = [(t0 + timedelta(minutes=5 * i), float(i % 12)) for i in range(24) if i != 3]  # 09:15 missing
    level = corpus.Level(10.0, 0.0)
    count = corpus.Series("count-00", "count", t0, t0 + timedelta(hours=2), t0, level, rows, [])
    share = corpus.Series("share-01", "share", t0, t0 + timedelta(hours=2), t0, level, rows, [])
    ten, eleven = t0, t0 + timedelta(hours=1)
    # 09:00-10:00 holds 0..11 but 3 (mean 63/11), 10:00-11:00 holds 0..11 (mean 5.5); a count stands for 12 rows.
    assert resample(share, "1h", 3600, 300) == [(ten, pytest.approx(63 / 11)), (eleven, 5.5)]
    assert resample(count, "1h", 3600, 300) == [(ten, pytest.approx(12 * 63 / 11)), (eleven, 66.0)]


def test_family_replays_only_that_familys_series(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = main(["--smoke", "--out", str(tmp_path), "--family", "share", "--rules", "spike_default"])

    families = text.split("\n\n")[2].splitlines()
    assert [c.strip() for c in families[0].split(" | ")[1:]] == ["share"], families[0]
    assert "series (share only)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--smoke", "--out", str(tmp_path), "--family", "shares"])
