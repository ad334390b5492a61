"""The anomaly benchmark's NAB-style scorer, on hand-worked cases.

Every case is one series of 5-minute rows with one label window over rows
20-29 (10 rows) unless it says otherwise. NAB's curve: a true positive at
relative position p (−1 at the window's first row, −1/10 at its last) earns
(2/(1+e^{5p}) − 1) / (2/(1+e^{−5}) − 1); a false negative costs 1; a false
positive 0.11, or after a window 0.11 × the curve at (distance past its end)
/ (rows in it − 1). Normalised: 100 × (raw + windows) / (2 × windows).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from tests.bench.anomaly.scoring import STANDARD, scaled_sigmoid, score_series, summarise

T0 = datetime.fromisoformat("2025-03-03T00:00:00+08:00")
STEP = timedelta(minutes=5)
ROWS = [T0 + STEP * i for i in range(100)]
WINDOW = [(ROWS[20], ROWS[29])]
MAX_TP = 2 / (1 + math.exp(-5)) - 1  # 0.98661


def at(*rows: int) -> list[datetime]:
    return [ROWS[i] for i in rows]


def nab(firings: list[datetime], windows: list[tuple[datetime, datetime]] = WINDOW, **kw: object) -> float:
    return summarise([score_series(ROWS, firings, windows, **kw)]).score  # type: ignore[arg-type]


def test_the_curve_is_nabs_scaled_sigmoid() -> None:
    assert scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert scaled_sigmoid(0.0) == 0.0
    assert scaled_sigmoid(1.0) == pytest.approx(-0.98661, abs=1e-5)
    assert scaled_sigmoid(3.5) == -1.0


def test_a_detector_that_never_fires_scores_0_and_one_that_fires_on_every_window_start_scores_100() -> None:
    windows = [(ROWS[20], ROWS[29]), (ROWS[60], ROWS[69])]
    assert nab([], windows) == 0.0
    assert nab(at(20, 60), windows) == pytest.approx(100.0)
    empty = summarise([score_series(ROWS, [], windows)])
    assert (empty.precision, empty.recall, empty.firings, empty.raw) == (None, 0.0, 0, -2.0)


def test_an_early_detection_earns_more_than_a_late_one() -> None:
    # First row: position −1, worth 1. Middle (row 25): −(29−25+1)/10 = −0.5, worth 0.84828/0.98661.
    # Last row: −1/10, worth (2/(1+e^0.5) − 1)/0.98661 = 0.24824.
    assert nab(at(20)) == pytest.approx(100.0)
    assert nab(at(25)) == pytest.approx(100 * (0.84828 / MAX_TP + 1) / 2, abs=1e-3)
    assert nab(at(29)) == pytest.approx(100 * (0.24824 + 1) / 2, abs=1e-3)
    assert nab(at(20)) > nab(at(25)) > nab(at(29)) > nab([])


def test_only_the_earliest_of_two_detections_in_a_window_counts_and_the_other_is_no_false_positive() -> None:
    # Row 22: position −(29−22+1)/10 = −0.8, worth (2/(1+e^−4) − 1)/0.98661 = 0.97711.
    result = score_series(ROWS, at(27, 22), WINDOW)
    assert result.raw == pytest.approx((2 / (1 + math.exp(-4)) - 1) / MAX_TP)
    assert result.raw == pytest.approx(0.97711, abs=1e-5)
    assert (result.detected, result.false_positives, result.firings) == (1, 0, 2)
    assert summarise([result]).precision == 1.0


def test_a_false_positive_before_any_window_costs_the_full_weight() -> None:
    result = score_series(ROWS, at(5, 20), WINDOW)
    assert result.raw == pytest.approx(1.0 - STANDARD.fp_weight)
    assert nab(at(5, 20)) == pytest.approx(100 * 1.89 / 2)
    summary = summarise([result])
    assert (summary.precision, summary.recall, summary.false_positives) == (0.5, 1.0, 1)


def test_a_detection_just_after_a_window_is_a_false_positive_that_costs_less_the_closer_it_is() -> None:
    # Row 30: one row past the end, position 1/(10−1); row 57: 28 rows past, beyond three lengths: the full 0.11.
    just_after = score_series(ROWS, at(30), WINDOW)
    assert just_after.false_positives == 1 and just_after.detected == 0
    assert just_after.raw == pytest.approx(-1.0 + STANDARD.fp_weight * (2 / (1 + math.exp(5 / 9)) - 1))
    assert just_after.raw == pytest.approx(-1.0 - 0.029793, abs=1e-6)
    far_after = score_series(ROWS, at(57), WINDOW)
    assert far_after.raw == pytest.approx(-1.0 - STANDARD.fp_weight)
    assert -1.11 < just_after.raw < -1.0


def test_firings_in_the_probation_are_not_scored_and_a_firing_between_rows_takes_the_next_row() -> None:
    result = score_series(ROWS, [*at(3), ROWS[19] + timedelta(minutes=2)], WINDOW, scored_from=ROWS[10])
    assert (result.firings, result.false_positives, result.detected) == (1, 0, 1)
    assert result.raw == pytest.approx(1.0)


def test_false_firings_are_counted_per_week_of_one_series() -> None:
    hourly = [T0 + timedelta(hours=h) for h in range(7 * 24 + 1)]  # exactly one week, first row to last
    week = score_series(hourly, [hourly[10], hourly[50], hourly[100]], [(hourly[100], hourly[110])])
    assert week.weeks == 1.0
    summary = summarise([week, week])
    assert summary.false_per_series_week == 4 / 2  # two false positives in each of two series-weeks
    assert (summary.windows, summary.detected, summary.recall) == (2, 2, 1.0)
    assert summary.precision == pytest.approx(2 / 6)
    # Over a span given outright (two weeks from the probation's end), not the rows': a series closed at the end
    # of its span still counts those days.
    spanned = score_series(hourly, [hourly[10]], [], scored_from=hourly[0], until=hourly[0] + timedelta(weeks=2))
    assert spanned.weeks == 2.0 and summarise([spanned]).false_per_series_week == 0.5
