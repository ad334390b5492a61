"""Anomaly detectors on series a duty officer would recognise: flat, around zero, gappy, shifted, a hall's week."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import pytest

from streams.detectors import (
    DETECTORS,
    CusumDetector,
    Detector,
    EwmaDetector,
    RobustWindowDetector,
    SeasonalDetector,
    Verdict,
    restore,
)
from streams.detectors.seasonal import Period
from streams.workdays import DEFAULT, SHANGHAI

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
FIVE_MIN = timedelta(minutes=5)

#: One factory per point-window detector, at its defaults except for a short arming.
WINDOWED: dict[str, Callable[[], Detector]] = {
    "ewma": lambda: EwmaDetector(alpha=0.05, min_points=30),
    "robust": lambda: RobustWindowDetector(window=100, min_points=30),
}


def _feed(detector: Detector, values: Iterable[float], start: datetime = START, step: timedelta = FIVE_MIN) -> datetime:
    """Learn `values` one `step` apart; returns the time of the next point."""
    at = start
    for value in values:
        detector.learn(at, value)
        at += step
    return at


def _noise(n: int, level: float, sd: float, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, sd) for _ in range(n)]


@pytest.mark.parametrize("kind", sorted(WINDOWED))
def test_a_flat_series_shrugs_at_a_wobble_and_flags_a_step(kind: str) -> None:
    """After 60 points of exactly 100, 101 scores low (the spread is floored by the level) and 200 scores high."""
    detector = WINDOWED[kind]()
    at = _feed(detector, [100.0] * 60)
    wobble, step = detector.judge(at, 101.0), detector.judge(at, 200.0)
    assert wobble.armed and wobble.score < 0.05
    assert step.armed and step.score > 0.9 and step.side == "up"
    assert step.baseline == pytest.approx(100.0) and step.spread > 0


@pytest.mark.parametrize("kind", sorted(WINDOWED))
@pytest.mark.parametrize("level", [0.0, -20.0])
def test_a_series_around_zero_or_below_is_scored_both_ways(kind: str, level: float) -> None:
    """Noise of sd 2 around 0 or -20: an ordinary point scores low, ±20 from the level scores high on its side."""
    detector = WINDOWED[kind]()
    at = _feed(detector, _noise(200, level, 2.0))
    ordinary = detector.judge(at, level + 1.0)
    high, low = detector.judge(at, level + 20.0), detector.judge(at, level - 20.0)
    assert ordinary.score < 0.1
    assert (high.side, low.side) == ("up", "down")
    assert high.score > 0.8 and low.score > 0.8
    assert high.baseline == pytest.approx(level, abs=1.0) and high.spread == pytest.approx(2.0, rel=0.3)


@pytest.mark.parametrize("kind", sorted(WINDOWED))
def test_arming_counts_points_not_time(kind: str) -> None:
    """Points three days apart: the detector arms at its 30th point, however many weeks they span."""
    detector = WINDOWED[kind]()
    at = _feed(detector, _noise(29, 10.0, 1.0), step=timedelta(days=3))
    assert detector.points == 29 and not detector.judge(at, 10.0).armed
    detector.learn(at, 10.0)
    assert detector.points == 30 and detector.judge(at + timedelta(days=3), 10.0).armed


def test_a_detector_with_nothing_learned_is_unarmed_and_never_divides_by_zero() -> None:
    """Before the first point every detector answers an unarmed verdict with a positive spread."""
    for cls in DETECTORS.values():
        verdict = cls().judge(START, 5.0)
        assert not verdict.armed and verdict.spread > 0 and 0.0 <= verdict.score < 1.0


@pytest.mark.parametrize("kind", sorted(WINDOWED))
def test_a_missing_value_is_neither_scored_nor_learned(kind: str) -> None:
    """An empty window's NaN scores 0 unarmed and does not count as a point or poison the baseline."""
    detector = WINDOWED[kind]()
    at = _feed(detector, [10.0] * 40)
    assert detector.judge(at, math.nan) == Verdict(0.0, "none", 10.0, detector.judge(at, 10.0).spread, False)
    detector.learn(at, math.nan)
    assert detector.points == 40 and detector.judge(at, 10.0).baseline == pytest.approx(10.0)


def test_one_outlier_does_not_move_the_robust_baseline() -> None:
    """A single 1000 among values around 10 leaves the median and the spread where they were."""
    detector = RobustWindowDetector(window=50, min_points=10)
    at = _feed(detector, _noise(49, 10.0, 1.0))
    before = detector.judge(at, 10.0)
    detector.learn(at, 1000.0)
    after = detector.judge(at, 10.0)
    assert after.baseline == pytest.approx(before.baseline, abs=0.2)
    assert after.spread == pytest.approx(before.spread, rel=0.2)


def test_the_robust_window_forgets_what_fell_out_of_it() -> None:
    """After a move from 10 to 50, once the window holds only the new level, 50 is the baseline."""
    detector = RobustWindowDetector(window=20, min_points=10)
    at = _feed(detector, [10.0] * 20 + [50.0] * 20)
    assert detector.judge(at, 50.0).baseline == 50.0 and detector.judge(at, 50.0).score == 0.0


def test_a_mostly_zero_count_still_has_a_spread() -> None:
    """Counts that are 0 most of the time and 1 now and then: a 1 is unremarkable, a 10 is not."""
    detector = RobustWindowDetector(window=100, min_points=30)
    at = _feed(detector, [1.0 if i % 4 == 0 else 0.0 for i in range(100)])
    assert detector.judge(at, 1.0).score < 0.5
    assert detector.judge(at, 10.0).score > 0.9


FACTORIES: dict[str, Callable[[], Detector]] = {
    **WINDOWED,
    "seasonal-day": lambda: SeasonalDetector(period="day", slot_s=300, per_slot=6, min_samples=3),
    "seasonal-week": lambda: SeasonalDetector(period="week", slot_s=300, per_slot=3, min_samples=2),
    "cusum": lambda: CusumDetector(k=0.5, h=4.0, alpha=0.02, min_points=30),
}


def _hall_like(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [
        max(0.0, 20.0 + 10.0 * math.sin(i / 20.0) + rng.gauss(0.0, 3.0)) + (40.0 if i % 97 == 0 else 0.0)
        for i in range(n)
    ]


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_a_restored_snapshot_gives_the_same_verdicts(kind: str) -> None:
    """Snapshot → JSON text → restore, then both copies see the same points: every verdict is identical."""
    original = FACTORIES[kind]()
    values = _hall_like(2 * 288 * 7, seed=3)
    at = _feed(original, values[:1500])
    copy = restore(json.loads(json.dumps(original.snapshot())))
    assert type(copy) is type(original) and copy.points == original.points
    for i, value in enumerate(values[1500:]):
        when = at + i * FIVE_MIN
        assert copy.judge(when, value) == original.judge(when, value)
        assert copy.observe(when, value) == original.observe(when, value)
    assert copy.snapshot() == original.snapshot()


def test_every_kind_is_registered_and_restores_from_its_defaults() -> None:
    """DETECTORS maps each kind to its class, and a fresh detector's snapshot restores to the same kind."""
    for kind, cls in DETECTORS.items():
        detector = cls()
        assert detector.kind == kind
        assert restore(json.loads(json.dumps(detector.snapshot()))).snapshot() == detector.snapshot()


def test_an_unknown_kind_or_a_foreign_snapshot_is_refused() -> None:
    """A snapshot of a kind nobody registered, or handed to the wrong class, is a clear error."""
    with pytest.raises(ValueError, match="unknown detector kind 'magic'"):
        restore({"kind": "magic", "params": {}, "state": {}})
    with pytest.raises(ValueError, match="expected 'robust'"):
        RobustWindowDetector.from_snapshot(EwmaDetector().snapshot())


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (lambda: EwmaDetector(alpha=0.0), "alpha"),
        (lambda: EwmaDetector(alpha=1.5), "alpha"),
        (lambda: EwmaDetector(min_points=0), "min_points"),
        (lambda: EwmaDetector(min_spread=0.0), "min_spread"),
        (lambda: EwmaDetector(min_spread_ratio=-0.1), "min_spread_ratio"),
        (lambda: RobustWindowDetector(window=2), "window"),
        (lambda: RobustWindowDetector(window=10, min_points=20), "min_points"),
        (lambda: SeasonalDetector(period="month"), "period"),  # type: ignore[arg-type]  # a period YAML could hold
        (lambda: SeasonalDetector(slot_s=7000), "slot_s"),
        (lambda: SeasonalDetector(per_slot=4, min_samples=5), "min_samples"),
        (lambda: CusumDetector(h=0.0), "h"),
        (lambda: CusumDetector(k=-1.0), "k"),
        (lambda: CusumDetector(alpha=2.0), "alpha"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_by_name(build: Callable[[], Detector], name: str) -> None:
    """A bad parameter raises ValueError naming it."""
    with pytest.raises(ValueError, match=name):
        build()


def test_a_damaged_snapshot_is_a_value_error() -> None:
    """A snapshot missing its state or with parameters of another detector is refused with ValueError."""
    snapshot = EwmaDetector().snapshot()
    with pytest.raises(ValueError, match="params object and a state object"):
        restore({"kind": "ewma", "params": snapshot["params"]})
    with pytest.raises(ValueError, match="malformed ewma snapshot"):
        restore({"kind": "ewma", "params": {"window": 5}, "state": snapshot["state"]})
    with pytest.raises(ValueError, match="malformed ewma snapshot"):
        restore({"kind": "ewma", "params": snapshot["params"], "state": {}})


# A hall's day, in local time: open 09:00-12:00 and 14:00-17:30 on working days, a trickle at lunch, shut at night
# and on rest days.
QUARTER = timedelta(minutes=15)


def _hall_value(local: datetime, workday: bool, rng: random.Random, busy: float = 30.0) -> float:
    minutes = local.hour * 60 + local.minute
    if not workday:
        return 0.0
    if 9 * 60 <= minutes < 12 * 60 or 14 * 60 <= minutes < 17 * 60 + 30:
        return max(0.0, busy + rng.gauss(0.0, 3.0))
    if 12 * 60 <= minutes < 14 * 60:
        return max(0.0, 3.0 + rng.gauss(0.0, 1.0))
    return 0.0


def _learn_days(
    detector: Detector, first: datetime, last: datetime, busy_on: Callable[[datetime], float] = lambda _: 30.0
) -> None:
    """Learn every quarter hour from local midnight of `first` to the end of `last`, open on calendar working days."""
    rng = random.Random(11)
    at = first
    while at < last + timedelta(days=1):
        detector.learn(at, _hall_value(at, DEFAULT.is_workday(at.date()), rng, busy_on(at)))
        at += QUARTER


def _local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def _hall_detector(period: Period = "day") -> SeasonalDetector:
    return SeasonalDetector(period=period, slot_s=900, per_slot=8, min_samples=4)


def test_the_seasonal_detector_knows_a_halls_day() -> None:
    """After three weeks of a hall: the lunch dip and a closed weekend are ordinary; a busy Sunday is not."""
    detector = _hall_detector()
    _learn_days(detector, _local(2026, 3, 2), _local(2026, 3, 22))
    assert detector.points == 21 * 96
    lunch, morning = detector.judge(_local(2026, 3, 23, 12, 30), 3.0), detector.judge(_local(2026, 3, 23, 10), 30.0)
    assert lunch.armed and lunch.score < 0.2 and morning.armed and morning.score < 0.2
    assert detector.judge(_local(2026, 3, 23, 3), 0.0).score < 0.2  # a quiet night
    closed_saturday = detector.judge(_local(2026, 3, 28, 10), 0.0)
    assert closed_saturday.armed and closed_saturday.score < 0.2
    busy_sunday = detector.judge(_local(2026, 3, 29, 10), 30.0)
    assert busy_sunday.armed and busy_sunday.score > 0.9 and busy_sunday.side == "up"
    shut_on_monday = detector.judge(_local(2026, 3, 23, 10), 0.0)
    assert shut_on_monday.score > 0.9 and shut_on_monday.side == "down"


@pytest.mark.parametrize("period", ["day", "week"])
def test_a_working_saturday_is_judged_as_a_working_day(period: Period) -> None:
    """Saturday 14 February 2026 is a 调休 working day: an open hall is ordinary, a shut one is flagged."""
    detector = _hall_detector(period)
    _learn_days(detector, _local(2026, 1, 12), _local(2026, 2, 13))
    open_hall, shut_hall = detector.judge(_local(2026, 2, 14, 10), 30.0), detector.judge(_local(2026, 2, 14, 10), 0.0)
    assert open_hall.armed and open_hall.score < 0.2
    assert shut_hall.armed and shut_hall.score > 0.9 and shut_hall.side == "down"
    # The Saturday before, a rest day, was judged the other way round.
    assert detector.judge(_local(2026, 2, 7, 10), 30.0).score > 0.9


def test_a_weekly_profile_expects_the_monday_rush() -> None:
    """A hall twice as busy every Monday morning: ordinary for period week, a spike for period day."""

    def busy(at: datetime) -> float:
        return 60.0 if at.weekday() == 0 else 30.0

    weekly, daily = _hall_detector("week"), _hall_detector("day")
    for detector in (weekly, daily):
        _learn_days(detector, _local(2026, 3, 2), _local(2026, 3, 29), busy)
    monday = _local(2026, 3, 30, 10)
    assert weekly.judge(monday, 60.0).score < 0.2 and weekly.judge(_local(2026, 3, 31, 10), 30.0).score < 0.2
    assert daily.judge(monday, 60.0).score > 0.9


def test_a_slot_arms_on_its_own_samples() -> None:
    """Two working days learned: many points, but each slot holds two values of the four it needs."""
    detector = _hall_detector()
    _learn_days(detector, _local(2026, 3, 2), _local(2026, 3, 3))
    assert detector.points == 2 * 96 and not detector.judge(_local(2026, 3, 4, 10), 30.0).armed
    with pytest.raises(ValueError, match="timezone-aware"):
        detector.judge(datetime(2026, 3, 4, 10), 30.0)


def _shifted(before: int, after: int, level: float, shift: float, sd: float) -> list[float]:
    return _noise(before, level, sd, seed=5) + _noise(after, level + shift, sd, seed=6)


@pytest.mark.parametrize("shift", [15.0, -15.0])
def test_cusum_flags_a_level_shift_then_takes_it_as_the_new_normal(shift: float) -> None:
    """Noise of sd 5 around 100 moves by 3 spreads: confirmed within a few points, and the new level then scores low."""
    detector = CusumDetector(k=0.5, h=8.0, alpha=0.02, min_points=30)
    verdicts = [detector.observe(START + i * FIVE_MIN, v) for i, v in enumerate(_shifted(300, 100, 100.0, shift, 5.0))]
    assert max(v.score for v in verdicts[:300] if v.armed) < 0.5
    firing = [i for i, v in enumerate(verdicts) if v.armed and v.score >= 0.5]
    assert firing and 300 <= firing[0] <= 310
    assert verdicts[firing[0]].side == ("up" if shift > 0 else "down")
    settled = verdicts[firing[0] + 10 :]
    assert max(v.score for v in settled) < 0.5
    assert settled[-1].baseline == pytest.approx(100.0 + shift, abs=2.5)


def test_cusum_catches_a_shift_no_single_point_shows() -> None:
    """A lasting move of one spread on a negative series: no point is three spreads out, yet CUSUM confirms it."""
    values = _shifted(300, 100, -40.0, 2.0, 2.0)
    cusum, ewma = CusumDetector(k=0.5, h=8.0), EwmaDetector(alpha=0.02)
    cusum_verdicts = [cusum.observe(START + i * FIVE_MIN, v) for i, v in enumerate(values)]
    ewma_scores = [ewma.observe(START + i * FIVE_MIN, v).score for i, v in enumerate(values)]
    cusum_scores = [v.score if v.armed else 0.0 for v in cusum_verdicts]
    assert max(cusum_scores[:300]) < 0.5 and max(cusum_scores[300:360]) >= 0.5
    assert sum(s >= 0.5 for s in ewma_scores[300:360]) <= 2
