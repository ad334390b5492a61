"""`govpulse rules check [PATH]`: validate rule files and say what is wrong, one line per problem."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import TextIO, get_args

from streams.rules.loader import read_rules
from streams.rules.schema import RULE_TYPES, Domain


def check(path: str | Path = "alert_rules", out: TextIO | None = None) -> int:
    """Print every problem (exit code 1) or a summary of the valid rules (exit code 0)."""
    out = out or sys.stdout
    rules, errors = read_rules(path)
    if errors:
        for line in errors:
            print(line, file=out)
        files = sum(1 for f in rules.files if any(line.startswith(f"{f}:") for line in errors)) or 1
        print(
            f"{len(errors)} error{'s' if len(errors) != 1 else ''} in {files} file{'s' if files != 1 else ''}", file=out
        )
        return 1
    types = Counter(rule.type for rule in rules)
    domains = Counter(rule.domain for rule in rules)
    disabled = sum(1 for rule in rules if not rule.enabled)
    print(
        f"{len(rules)} rules in {len(rules.files)} files OK" + (f" ({disabled} disabled)" if disabled else ""), file=out
    )
    print("  by type:   " + ", ".join(f"{name} {types[name]}" for name in RULE_TYPES if types[name]), file=out)
    print(
        "  by domain: " + ", ".join(f"{name} {domains[name]}" for name in get_args(Domain) if domains[name]), file=out
    )
    return 0
