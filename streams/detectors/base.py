"""What every anomaly detector is: a baseline kept point by point, a score for each new point, and its state.

A detector sees one series (one indicator for one entity) one point at a time,
in time order. `judge` scores a point against the baseline learned from the
points before it; `learn` takes a complete point into the baseline. Its state is plain JSON
(`snapshot`), so it is saved with the alert book and restored after a
restart, and rebuilt from ClickHouse history when there is no snapshot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal, Protocol

#: Which side of its baseline a point lies.
Side = Literal["up", "down", "none"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one point looks against the baseline before it."""

    #: 0 (ordinary) to 1 (far outside anything normal); comparable across detectors and series.
    score: float
    side: Side
    #: The value the point was expected to take.
    baseline: float
    #: The scale of an ordinary deviation the point was measured in (after the detector's floor), > 0.
    spread: float
    #: Whether the detector had seen enough points for the score to count; an unarmed verdict never fires.
    armed: bool

    @property
    def z(self) -> float:
        """The signed deviation in spreads: evidence for the message, not what fires."""
        return (1.0 if self.side == "up" else -1.0 if self.side == "down" else 0.0) * z_of(self.score)


class Detector(Protocol):
    """One series' baseline. Implementations are registered by `kind` (streams.detectors.DETECTORS)."""

    kind: ClassVar[str]

    @property
    def points(self) -> int:
        """Points learned so far (a detector is armed after enough of them, however much time they span)."""
        ...

    def judge(self, at: datetime, value: float) -> Verdict:
        """How `value` (at `at`, timezone-aware) looks against the state so far; the state does not change.

        A rule judges the window still filling this way, and learns it only once it is complete.
        """
        ...

    def learn(self, at: datetime, value: float) -> None:
        """Take one complete point into the baseline (points arrive in time order, gaps allowed)."""
        ...

    def observe(self, at: datetime, value: float) -> Verdict:
        """`judge`, then `learn`: how a replay of complete points goes."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """The whole state as JSON-able values; `restore` of it gives a detector that behaves identically."""
        ...


#: The deviation, in spreads, that scores 0.5: the classic three-sigma line sits in the middle of the scale.
HALF_SCORE_Z = 3.0


def score_of_z(z: float) -> float:
    """A deviation of |z| spreads as a score in [0, 1): z² / (z² + 9).

    Monotone, so a z threshold and a score threshold say the same thing, and unlike a Gaussian tail probability
    it keeps its resolution far out (z 3 → 0.5, 5 → 0.74, 10 → 0.92, 30 → 0.99), so large anomalies still rank.
    """
    zz = z * z
    return zz / (zz + HALF_SCORE_Z * HALF_SCORE_Z)


def z_of(score: float) -> float:
    """The |z| a score stands for (the inverse of score_of_z)."""
    if score <= 0.0:
        return 0.0
    if score >= 1.0:
        return math.inf
    return HALF_SCORE_Z * math.sqrt(score / (1.0 - score))
