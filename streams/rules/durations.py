"""Durations as rule files write them: `90s`, `10m`, `2h`, `1d`, or combined as `1h30m`.

Parsed to whole seconds. A bare number is refused: `for: 10` could mean
seconds or minutes, and a rule that waits 60 times too long fails silently.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
#: Longer than any window an alert could sensibly look at; catches `1000d` typos.
MAX_S = 366 * 86_400


def parse_duration(value: object) -> int:
    """`'90s'` → 90, `'1h30m'` → 5400; raises ValueError for anything else."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"write a duration like 90s, 10m, 2h or 1d, got {value!r}")  # noqa: TRY004 - pydantic reports only ValueError
    text = value.strip()
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"write a duration like 90s, 10m, 2h or 1d (units d, h, m, s in that order), got {value!r}")
    seconds = sum(int(part) * unit for part, unit in zip(match.groups(), UNITS.values(), strict=True) if part)
    if seconds > MAX_S:
        raise ValueError(f"{value!r} is longer than a year")
    return seconds


def format_duration(seconds: int) -> str:
    """The inverse of `parse_duration`, shortest form: 5400 → '1h30m', 0 → '0s'."""
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out


def _positive(seconds: int) -> int:
    if seconds <= 0:
        raise ValueError("must be longer than 0s")
    return seconds


_AS_TEXT = PlainSerializer(format_duration, return_type=str)
#: Whole seconds, zero allowed (e.g. `for: 0s` fires at once); dumped back as text so a dump re-validates.
Duration = Annotated[int, BeforeValidator(parse_duration), _AS_TEXT]
#: Whole seconds, above zero (intervals and windows).
PositiveDuration = Annotated[int, BeforeValidator(parse_duration), AfterValidator(_positive), _AS_TEXT]
