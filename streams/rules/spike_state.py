"""The spike checks' learned state across restarts and reloads: one JSON document, and carrying it to new checks.

Each check's state is saved under its key (the rule id, or `<rule>.all.<n>`
for a composite's inline condition) with the settings it was learned under
(`SpikeCheck.settings`); it is restored, or carried over a reload, only into
a check with the same key and settings. A check that gets none rebuilds its
state from ClickHouse on its first round.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import structlog

from streams.rules.composite_rules import CompositeCheck
from streams.rules.evaluators import TimerCheck
from streams.rules.spike_rules import SpikeCheck

log = structlog.get_logger(__name__)
STATE_VERSION = 1


def spike_checks(checks: Iterable[TimerCheck]) -> Iterator[SpikeCheck]:
    """The spike checks among timer checks, a composite's inline ones included."""
    for check in checks:
        if isinstance(check, SpikeCheck):
            yield check
        elif isinstance(check, CompositeCheck):
            yield from (c for c in check.inline if isinstance(c, SpikeCheck))


def changed(checks: Iterable[TimerCheck]) -> bool:
    """Whether any spike check learned something since its state was last taken."""
    return any(check.memory.changed for check in spike_checks(checks))


def snapshot(checks: Iterable[TimerCheck]) -> dict[str, Any]:
    """Every spike check's state as JSON-able values; each counts as saved from now on."""
    out: dict[str, Any] = {}
    for check in spike_checks(checks):
        out[check.key] = {"settings": check.settings, **check.memory.snapshot()}
        check.memory.changed = False
    return {"version": STATE_VERSION, "checks": out}


def restore(checks: Iterable[TimerCheck], data: Mapping[str, Any]) -> list[str]:
    """Load saved state into the checks whose key and settings it was saved under; the keys of those restored.

    A check whose saved state is missing, learned under other settings, or
    unreadable keeps none and rebuilds it from history.
    """
    if data.get("version") != STATE_VERSION:
        raise ValueError(f"spike state version {data.get('version')!r}, expected {STATE_VERSION}")
    saved = data.get("checks", {})
    restored = []
    for check in spike_checks(checks):
        entry = saved.get(check.key)
        if not isinstance(entry, dict) or entry.get("settings") != check.settings:
            continue
        try:
            check.memory.load(entry)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("spike_state_unreadable", check=check.key, error=repr(exc)[:300])
            continue
        restored.append(check.key)
    return restored


def carry(old: Iterable[TimerCheck], new: Iterable[TimerCheck]) -> list[str]:
    """Hand each new spike check the state of the old check with its key and settings; the keys carried."""
    by_key = {(c.key, c.settings): c.memory for c in spike_checks(old)}
    carried = []
    for check in spike_checks(new):
        memory = by_key.get((check.key, check.settings))
        if memory is not None:
            check.memory = memory
            carried.append(check.key)
    return carried
