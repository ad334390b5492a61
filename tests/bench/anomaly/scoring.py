"""A window-based score of a detector's firings against labelled anomaly windows, the way NAB scores.

NAB (the Numenta Anomaly Benchmark, nab/scorer.py) scores each series from
its rows, its label windows and the rows where the detector fired:
- the earliest firing inside a window is a true positive worth
  `scaled_sigmoid(position) / scaled_sigmoid(-1)` times the TP weight, where
  position = -(rows from the firing to the window's end, both counted) / (rows in the window): 1 at the
  window's first row, falling toward 0 at its last; later firings in the same window count nothing;
- a window with no firing is a false negative, -1 times the FN weight;
- a firing outside every window is a false positive: -1 times the FP weight, or, after a window, the scaled
  sigmoid of its distance past that window's end in window lengths (so one just after the end costs little, one
  three lengths on costs the full weight);
- firings before the series' `scored_from` (NAB's probationary period, while a detector learns) are not scored.
The corpus total is normalised as NAB does: 100 × (raw − null) / (perfect − null), where null is a detector
that never fires (every window a false negative) and perfect one that fires on every window's first row: 0 and
100. The standard profile weighs TP 1, FN 1, FP 0.11.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class Profile:
    """NAB's cost matrix: what a true positive earns and a false negative or positive costs."""

    tp_weight: float = 1.0
    fp_weight: float = 0.11
    fn_weight: float = 1.0


#: NAB's standard profile.
STANDARD = Profile()


def scaled_sigmoid(position: float) -> float:
    """NAB's reward curve: 0.987 at -1 (a window's start), 0 at 0 (its end), → -1 past it; -1 beyond 3."""
    if position > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


@dataclass(frozen=True)
class SeriesScore:
    """One series' part of the score, and the counts behind precision and recall."""

    raw: float
    #: Label windows with at least one row (a window with none cannot be detected, and is left out).
    windows: int
    #: Windows with a firing inside: the true positives.
    detected: int
    #: Firings outside every window, after the probation.
    false_positives: int
    #: Every firing after the probation, including the later ones inside a window.
    firings: int
    #: The scored span (from `scored_from`, or the first row, to `until`, or the last row), in weeks.
    weeks: float


def score_series(
    rows: Sequence[datetime],
    firings: Iterable[datetime],
    windows: Sequence[tuple[datetime, datetime]],
    *,
    scored_from: datetime | None = None,
    until: datetime | None = None,
    profile: Profile = STANDARD,
) -> SeriesScore:
    """Score one series. `rows` are its timestamps in order; a firing at a time between rows takes the next row.

    The series spans `scored_from` (default: its first row) to `until` (default: its last row), which is what
    its false positives are counted per week over.
    """
    first = 0 if scored_from is None else bisect.bisect_left(rows, scored_from)
    fired = sorted({i for i in (bisect.bisect_left(rows, at) for at in firings) if first <= i < len(rows)})
    # Each window as the row indices [lo, hi] inside it (NAB: start <= timestamp <= end), in time order.
    spans = sorted(
        (lo, hi)
        for lo, hi in ((bisect.bisect_left(rows, s), bisect.bisect_right(rows, e) - 1) for s, e in windows)
        if lo <= hi
    )
    max_tp = scaled_sigmoid(-1.0)
    raw, detected, false_positives = 0.0, 0, 0
    for lo, hi in spans:
        k = bisect.bisect_left(fired, lo)
        if k < len(fired) and fired[k] <= hi:
            length = hi - lo + 1
            raw += scaled_sigmoid(-(hi - fired[k] + 1) / length) * profile.tp_weight / max_tp
            detected += 1
        else:
            raw -= profile.fn_weight
    for i in fired:
        if any(lo <= i <= hi for lo, hi in spans):
            continue
        before = [(lo, hi) for lo, hi in spans if hi < i]
        if before:
            lo, hi = max(before, key=lambda span: span[1])
            raw += scaled_sigmoid((i - hi) / max(hi - lo, 1)) * profile.fp_weight
        else:
            raw -= profile.fp_weight
        false_positives += 1
    weeks = 0.0
    if rows:
        weeks = max(0.0, ((until or rows[-1]) - (scored_from or rows[0])) / WEEK)
    return SeriesScore(raw, len(spans), detected, false_positives, len(fired), weeks)


@dataclass(frozen=True)
class Summary:
    """A detector's figures over the corpus."""

    #: NAB's normalised score: 0 never fires, 100 perfect; below 0 when false positives cost more than it found.
    score: float
    #: True positives over true plus false positives; None when it never fired.
    precision: float | None
    #: Windows detected over windows.
    recall: float | None
    #: False positives per week of one series.
    false_per_series_week: float
    firings: int
    windows: int
    detected: int
    false_positives: int
    raw: float


def summarise(scores: Iterable[SeriesScore], profile: Profile = STANDARD) -> Summary:
    parts = list(scores)
    windows = sum(p.windows for p in parts)
    detected = sum(p.detected for p in parts)
    false_positives = sum(p.false_positives for p in parts)
    raw = sum(p.raw for p in parts)
    null, perfect = -profile.fn_weight * windows, profile.tp_weight * windows
    weeks = sum(p.weeks for p in parts)
    return Summary(
        score=100.0 * (raw - null) / (perfect - null) if windows else 0.0,
        precision=detected / (detected + false_positives) if detected + false_positives else None,
        recall=detected / windows if windows else None,
        false_per_series_week=false_positives / weeks if weeks else 0.0,
        firings=sum(p.firings for p in parts),
        windows=windows,
        detected=detected,
        false_positives=false_positives,
        raw=raw,
    )
