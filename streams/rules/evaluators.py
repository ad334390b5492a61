"""What the runner needs of a rule's evaluator, and what building one from its config is given.

Two kinds of evaluators: an `EventRule` is fed each accepted event of its
stream and the clock, a `TimerCheck` is evaluated every so often against the
indicators in ClickHouse. Every rule type's evaluator has a factory taking
its config and a `BuildContext` (`streams.rules.schema.RULE_TYPES` maps the
type's name to both).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from streams.alerts.lifecycle import AlertBook
from streams.alerts.model import Observation
from streams.indicators.service import Reader
from streams.registry import Registry


class EventRule(Protocol):
    """A rule evaluated on the stream (frequency, absence, persistent): per event, and as time passes."""

    @property
    def rule_id(self) -> str: ...

    @property
    def stream(self) -> str: ...

    def add(self, event: Mapping[str, Any], at: datetime, city: int | None) -> list[Observation]:
        """One accepted event (its fields, its event time, its city): what it changes."""

    def tick(self, now: datetime) -> list[Observation]:
        """The clock moved on: windows age out, silences and runs grow long enough to fire."""


class TimerCheck(Protocol):
    """A rule evaluated on the timer (threshold, ratio, spike, composite, deadline): one observation per group."""

    @property
    def rule_id(self) -> str: ...

    async def evaluate(self, reader: Reader, now: datetime) -> list[Observation]: ...


@dataclass(frozen=True)
class ScheduledCheck:
    """A timer check with how often the runner evaluates it."""

    check: TimerCheck
    every_s: float


#: What a rule type's factory makes of a config.
Evaluator = EventRule | ScheduledCheck


@dataclass(frozen=True)
class BuildContext:
    """What an evaluator may need besides its config: the org registry, the alert book, the build time."""

    registry: Registry
    book: AlertBook
    now: datetime
