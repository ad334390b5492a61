"""Checks of a detector's parameters and snapshot: a setting that cannot work is refused with its name."""

from __future__ import annotations

import math
from typing import Any


def check_floors(min_spread_ratio: float, min_spread: float) -> None:
    """Refuse floors that cannot work, naming the parameter."""
    if not (math.isfinite(min_spread_ratio) and min_spread_ratio >= 0.0):
        raise ValueError(f"min_spread_ratio must be a finite number >= 0, got {min_spread_ratio!r}")
    if not (math.isfinite(min_spread) and min_spread > 0.0):
        raise ValueError(f"min_spread must be a finite number > 0, got {min_spread!r}")


def check_count(name: str, value: int, minimum: int) -> None:
    """Refuse a count parameter that is not an int of at least `minimum`, naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def check_rate(name: str, value: float) -> None:
    """Refuse a smoothing rate outside (0, 1], naming it."""
    if not (math.isfinite(value) and 0.0 < value <= 1.0):
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")


def check_snapshot(snapshot: dict[str, Any], kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters and state of a snapshot of a `kind` detector; ValueError if it is of another kind."""
    if snapshot.get("kind") != kind:
        raise ValueError(f"snapshot kind is {snapshot.get('kind')!r}, expected {kind!r}")
    try:
        return dict(snapshot["params"]), dict(snapshot["state"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError("snapshot needs a params object and a state object") from e
