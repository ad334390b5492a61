"""Building valid and invalid events from the registry the stack runs with."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from streams.registry import Registry

_counter = itertools.count(1)


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat()


def queue_event(registry: Registry, city: int, **overrides: Any) -> dict[str, Any]:
    """A valid `ticket_called` event for the first hall of `city`."""
    hall = registry.halls_in_city(city)[0]
    window = next(w for w in registry.windows() if w.hall_id == hall.hall_id)
    now = datetime.now(UTC)
    n = next(_counter)
    event = {
        "event_id": f"it-{city}-{n}-{now.timestamp():.0f}",
        "source": f"node-{city}",
        "seq": n,
        "occurred_at": iso(now - timedelta(seconds=5)),
        "sent_at": iso(now),
        "type": "ticket_called",
        "hall_id": hall.hall_id,
        "ticket_no": f"A{n:04d}",
        "window_id": window.window_id,
    }
    event.update(overrides)
    return event
