"""The `govpulse` command line: agents/cli/main.py parses and dispatches, one module per group of subcommands."""

from __future__ import annotations

import argparse
from typing import TypeAlias

#: What each module's `add_parser(s)` adds its subcommands to.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
