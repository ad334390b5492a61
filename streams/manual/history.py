"""Which stored manual value is current: for one indicator, entity and period, the latest upload wins.

Every upload's rows are kept. This groups them by what they are a value for,
newest first: the first is the value the indicator serves (the SQL picks the
same one with argMax over uploaded_at, then upload_id), the rest are the history
it superseded, each saying which upload replaced it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredValue:
    """One row of the manual values table."""

    indicator: str
    entity_kind: str
    entity: str
    city_code: int
    period_label: str
    period_start: date
    period_end: date
    value: float
    note: str
    upload_id: str
    uploaded_by: str
    role: str
    uploaded_at: datetime
    file_name: str
    file_sha256: str
    line: int

    @property
    def key(self) -> tuple[str, str, str, date, date]:
        return self.indicator, self.entity_kind, self.entity, self.period_start, self.period_end

    @property
    def order(self) -> tuple[datetime, str]:
        """Newer uploads sort higher; equal times are broken by upload id, as in the indicator's SQL."""
        at = self.uploaded_at if self.uploaded_at.tzinfo else self.uploaded_at.replace(tzinfo=UTC)
        return at, self.upload_id

    def upload_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "note": self.note,
            "upload_id": self.upload_id,
            "uploaded_by": self.uploaded_by,
            "role": self.role,
            "uploaded_at": self.order[0].isoformat(),
            "file": self.file_name,
            "sha256": self.file_sha256,
            "line": self.line,
        }


def with_history(rows: Iterable[StoredValue]) -> list[dict[str, Any]]:
    """One entry per indicator, entity and period: the current value, and the older ones it superseded."""
    groups: dict[tuple[str, str, str, date, date], dict[str, StoredValue]] = defaultdict(dict)
    for row in rows:
        groups[row.key][row.upload_id] = row  # a retried write of one upload counts once
    out = []
    for key in sorted(groups):
        uploads = sorted(groups[key].values(), key=lambda r: r.order, reverse=True)
        current = uploads[0]
        older = [{**row.upload_json(), "superseded_by": newer.upload_id} for newer, row in pairwise(uploads)]
        out.append(
            {
                "indicator": current.indicator,
                "entity_kind": current.entity_kind,
                "entity": current.entity,
                "city_code": current.city_code or None,
                "period": current.period_label,
                "from": current.period_start.isoformat(),
                "to": current.period_end.isoformat(),
                **current.upload_json(),
                "history": older,
            }
        )
    return out
