"""Hot reload of the rule files: a valid change replaces the rules, an invalid one is refused and reported.

Checked on the rule timer by file modification times, so it needs no
file-watching thread and works the same on every filesystem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import structlog

from streams.metrics import Metrics
from streams.rules.loader import RuleError, RuleSet, read_rules

log = structlog.get_logger(__name__)


def _stamp(path: Path) -> tuple[tuple[str, int, int], ...]:
    files = [path] if path.is_file() else sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
    return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.exists())


@dataclass
class RuleStatus:
    """What the API shows about the loaded rules."""

    path: str
    loaded_at: str | None = None
    rules: int = 0
    last_error: list[str] = field(default_factory=list)
    last_error_at: str | None = None


class RuleReloader:
    def __init__(self, path: Path, metrics: Metrics) -> None:
        self.path = path
        self.metrics = metrics
        self.status = RuleStatus(str(path))
        self._stamp: tuple[tuple[str, int, int], ...] = ()

    def load_initial(self) -> RuleSet:
        """The rules at start; invalid files at start are an error the operator must fix (raises)."""
        rules, errors = read_rules(self.path)
        if errors:
            raise RuleError(errors)
        self._accept(rules)
        return rules

    def poll(self, *, force: bool = False) -> RuleSet | None:
        """New rules when the files changed (or `force`) and are valid; else None (an invalid change is reported)."""
        stamp = _stamp(self.path)
        if stamp == self._stamp and not force:
            return None
        self._stamp = stamp
        rules, errors = read_rules(self.path)
        if errors:
            self.status.last_error = errors
            self.status.last_error_at = datetime.now(UTC).isoformat()
            self.metrics.rule_reload_failures.inc()
            log.warning("rules_reload_refused", path=str(self.path), errors=errors[:20], kept=self.status.rules)
            return None
        self._accept(rules)
        self.metrics.rule_reloads.inc()
        log.info("rules_reloaded", path=str(self.path), rules=len(rules))
        return rules

    def _accept(self, rules: RuleSet) -> None:
        self._stamp = _stamp(self.path)
        self.status.rules = len(rules)
        self.status.loaded_at = datetime.now(UTC).isoformat()
        self.status.last_error = []
