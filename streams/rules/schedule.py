"""When a rule is evaluated: always, during opening hours (Asia/Shanghai), on working days, or both.

Working days are those of the Chinese calendar (法定节假日 and 调休), as
`streams.workdays.WorkingDays.is_workday` says. `opening: hall` means each
hall's own opening hours from the registry (`Hall.opening`), so a rule about
halls with different hours needs no per-hall copy.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
#: Seconds of the local day, [start, end).
Span = tuple[int, int]


class Schedule(BaseModel):
    """`always` in YAML is the default: no opening hours, every day."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "09:00-12:00,13:30-17:30" (local time), or "hall" for each hall's registry hours; None: all day.
    opening: str | None = None
    working_days_only: bool = Field(default=False, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _always(cls, data: Any) -> Any:
        if data == "always":
            return {}
        if isinstance(data, str):
            raise ValueError("write `always`, or a mapping with opening and/or working_days_only")  # noqa: TRY004 - pydantic reports only ValueError
        return data

    @field_validator("opening")
    @classmethod
    def _opening(cls, value: str | None) -> str | None:
        if value is not None and value != "hall":
            parse_opening(value)
        return value

    @property
    def always(self) -> bool:
        return self.opening is None and not self.working_days_only

    @property
    def spans(self) -> tuple[Span, ...]:
        """Fixed opening spans in seconds of the local day; () for all day or for `hall`."""
        return parse_opening(self.opening) if self.opening not in (None, "hall") else ()


def parse_opening(text: str) -> tuple[Span, ...]:
    """'09:00-12:00,13:30-17:30' → ((32400, 43200), (48600, 63000)); raises ValueError naming the bad part."""
    spans: list[Span] = []
    for part in text.split(","):
        match = _SPAN.match(part.strip())
        if match is None:
            raise ValueError(f"write opening hours like 09:00-12:00,13:30-17:30 (or hall), got {part.strip()!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise ValueError(f"{part.strip()!r} is not a time of day (00:00 to 24:00)")
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if end <= start:
            raise ValueError(f"{part.strip()!r} ends before it starts")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        if start < end:
            raise ValueError(f"opening spans overlap in {text!r}")
    return tuple(spans)
