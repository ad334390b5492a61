"""The defined indicators in the catalogue every module reads, and their hot reload.

`INDICATORS` (streams.indicators.catalog) is one dict that the query service,
the APIs, the rule schema and the scorecards all look names up in. The
defined indicators are put into that same dict, in place, next to the
built-in ones, so every importer sees them; a reload replaces them as a
whole.

Reload follows the rule files' (streams.rules.reloader): checked on the rule
timer by file modification times; a valid change replaces the defined set;
an invalid one is refused, logged and kept in `status`, and the previous set
stays. A change that would break a rule the rule files hold (e.g. deleting
an indicator a rule reads) is refused too, naming the rule: the caller
passes `rule_problems`, which lists the rule files' problems against the
catalogue as it is at the time of the call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import structlog

from streams.indicators.catalog import INDICATORS
from streams.indicators.defined_loader import DefinedError, DefinedSet, indicator_files, read_defined
from streams.indicators.model import Indicator

log = structlog.get_logger(__name__)
#: The indicators written in code, as they were before anything was installed.
BUILT_INS: Mapping[str, Indicator] = MappingProxyType(dict(INDICATORS))


def install(defined: DefinedSet) -> None:
    """Make `defined` the defined indicators of the catalogue, replacing any installed before."""
    for name in [n for n in INDICATORS if n not in BUILT_INS]:
        del INDICATORS[name]
    INDICATORS.update(defined.indicators)


def installed() -> DefinedSet:
    """The defined indicators in the catalogue now."""
    return DefinedSet({n: i for n, i in INDICATORS.items() if n not in BUILT_INS})


def load(path: str | Path) -> DefinedSet:
    """Read and install the defined indicators of `path`; raises DefinedError listing every problem."""
    defined, errors = read_defined(path, BUILT_INS)
    if errors:
        raise DefinedError(errors)
    install(defined)
    return defined


def _stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in indicator_files(path) if f.exists())


@dataclass
class DefinedStatus:
    """What the API shows about the defined indicators."""

    path: str
    loaded_at: str | None = None
    indicators: list[str] = field(default_factory=list)
    last_error: list[str] = field(default_factory=list)
    last_error_at: str | None = None


class DefinedReloader:
    def __init__(self, path: Path, rule_problems: Callable[[], list[str]] = list) -> None:
        self.path = path
        self.rule_problems = rule_problems
        self.status = DefinedStatus(str(path))
        self._stamp: tuple[tuple[str, int, int], ...] = ()

    def load_initial(self) -> DefinedSet:
        """Install the defined indicators at start; invalid files at start are an error to fix (raises)."""
        defined = load(self.path)
        self._accept(defined)
        return defined

    def poll(self, *, force: bool = False) -> DefinedSet | None:
        """The new set when the files changed (or `force`) and it was installed; else None (a refusal is reported)."""
        stamp = _stamp(self.path)
        if stamp == self._stamp and not force:
            return None
        self._stamp = stamp
        defined, errors = read_defined(self.path, BUILT_INS)
        if not errors:
            errors = self._try(defined)
        if errors:
            self.status.last_error = errors
            self.status.last_error_at = datetime.now(UTC).isoformat()
            log.warning("indicators_reload_refused", path=str(self.path), errors=errors[:20], kept=len(installed()))
            return None
        self._accept(defined)
        log.info("indicators_reloaded", path=str(self.path), indicators=sorted(defined.indicators))
        return defined

    def _try(self, defined: DefinedSet) -> list[str]:
        """Install `defined` if no rule breaks with it; else put the previous set back and say which rules broke."""
        previous = installed()
        before = set(self.rule_problems())
        install(defined)
        broken = [line for line in self.rule_problems() if line not in before]
        if not broken:
            return []
        install(previous)
        return [f"{self.path}: refused: the rules would break with these indicators:", *broken]

    def _accept(self, defined: DefinedSet) -> None:
        self._stamp = _stamp(self.path)
        self.status.indicators = list(defined.indicators)
        self.status.loaded_at = datetime.now(UTC).isoformat()
        self.status.last_error = []
