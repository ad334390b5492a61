"""Spike baselines and arming, with a fake reader answering a grouped indicator series."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from streams.rules.spike_rules import SpikeCheck, ewma_baseline, window_baseline

NOW = datetime(2026, 11, 20, 4, 2, tzinfo=UTC)


def test_baselines_by_hand() -> None:
    """Window: mean 2, sample std 1 for 1,2,3; EWMA with alpha 0.5 over 0,4 is mean 2, std 2."""
    assert window_baseline([1.0, 2.0, 3.0]) == (2.0, 1.0)
    mean, std = ewma_baseline([0.0, 4.0], 0.5)
    assert (mean, std) == (2.0, pytest.approx(2.0))


class Series:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    async def query(self, sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return self.rows


def _hourly(entity: str, values: list[float]) -> list[tuple[Any, ...]]:
    start = NOW.replace(minute=0) - timedelta(hours=len(values) - 1)
    return [((start + timedelta(hours=i), entity), v) for i, v in enumerate(values)]


async def test_a_jump_fires_only_once_armed() -> None:
    """A hall with 6 quiet hours then 30 bad reviews spikes; a hall with only 2 hours of history is not armed."""
    check = SpikeCheck(
        "bad_spike", "evaluations", "1h", "province", "hall", 7 * 86400, "window", 3.0, 1.0, min_history=4
    )
    rows = _hourly("H1", [2, 3, 2, 4, 3, 2, 30]) + _hourly("H2", [1, 50])
    found = {o.group["hall"]: o for o in await check.evaluate(Series(rows), NOW)}
    assert set(found) == {"H1"} and found["H1"].breached and found["H1"].evidence["history"] == 6
