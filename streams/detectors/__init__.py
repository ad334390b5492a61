"""Anomaly detectors: one series' baseline kept point by point, a score for each new point, and its state.

`DETECTORS` maps each kind to its class; `restore` rebuilds a detector from its snapshot, which carries the kind
and the parameters as well as the state.
"""

from __future__ import annotations

from typing import Any, Protocol

from streams.detectors.base import HALF_SCORE_Z, Detector, Side, Verdict, score_of_z, z_of
from streams.detectors.cusum import CusumDetector
from streams.detectors.ewma import EwmaDetector
from streams.detectors.robust import RobustWindowDetector
from streams.detectors.seasonal import SeasonalDetector


class DetectorClass(Protocol):
    """A detector class: built from keyword parameters, or from a snapshot of one of its instances."""

    kind: str

    def __call__(self, *args: Any, **kwargs: Any) -> Detector: ...

    def from_snapshot(self, snapshot: dict[str, Any]) -> Detector: ...


#: Every detector class by its kind (the `kind` in its snapshot).
DETECTORS: dict[str, DetectorClass] = {
    EwmaDetector.kind: EwmaDetector,
    RobustWindowDetector.kind: RobustWindowDetector,
    SeasonalDetector.kind: SeasonalDetector,
    CusumDetector.kind: CusumDetector,
}


def restore(snapshot: dict[str, Any]) -> Detector:
    """The detector a `snapshot()` was taken of, behaving exactly as it did.

    ValueError for an unknown kind or a snapshot that is not one (a missing field, a value of the wrong type).
    """
    kind = snapshot.get("kind")
    cls = DETECTORS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown detector kind {kind!r}; known: {', '.join(sorted(DETECTORS))}")
    try:
        return cls.from_snapshot(snapshot)
    except (KeyError, TypeError) as e:
        raise ValueError(f"malformed {kind} snapshot: {e!r}") from e


__all__ = [
    "DETECTORS",
    "HALF_SCORE_Z",
    "CusumDetector",
    "Detector",
    "DetectorClass",
    "EwmaDetector",
    "RobustWindowDetector",
    "SeasonalDetector",
    "Side",
    "Verdict",
    "restore",
    "score_of_z",
    "z_of",
]
