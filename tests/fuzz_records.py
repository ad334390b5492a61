"""Hostile records for fuzzing: valid events of every stream, each bent by one or more mutations.

Mutations: wrong types, huge strings, deep nesting, NaN and infinities,
timestamps far in the past or future or in odd formats, unicode edge cases,
missing and unknown fields, duplicate ids, and entities of another city.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from streams.registry import Registry

_ids = itertools.count()


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


HOSTILE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=50),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "\u202e",
            "\ufeff",
            "𠀀" * 40,
            "é" * 300,
            "x" * 70_000,
            "\ud800",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2026-02-30T10:00:00+08:00",
            "1e309",
            "NaN",
            "Infinity",
            "-0",
            "H440100001' OR 1=1 --",
            "../../etc/passwd",
            "{{7*7}}",
        ]
    ),
    st.integers(min_value=1, max_value=300).map(_deep),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def base_events(registry: Registry, city: int, now: datetime) -> list[dict[str, Any]]:
    """One valid event per stream for the city's first hall."""
    hall = registry.halls_in_city(city)[0]
    window = next(w for w in registry.windows() if w.hall_id == hall.hall_id)
    camera = next(c for c in registry.cameras() if c.hall_id == hall.hall_id)
    item = next(iter(registry.items()))
    source, at = f"node-{city}", (now - timedelta(minutes=1)).isoformat()
    head = {"source": source, "seq": 1, "occurred_at": at, "sent_at": now.isoformat()}
    return [
        {**head, "type": "ticket_issued", "hall_id": hall.hall_id, "ticket_no": "A001", "item_id": item.item_id},
        {**head, "type": "window_opened", "hall_id": hall.hall_id, "window_id": window.window_id, "staff_id": "S1"},
        {
            **head,
            "type": "evaluation",
            "case_no": "BJ1",
            "item_id": item.item_id,
            "dept_id": item.dept_id,
            "level": "satisfied",
            "channel": "hall_pad",
            "mode": "active",
            "hall_id": hall.hall_id,
            "window_id": window.window_id,
            "staff_id": "S1",
            "evaluator_hash": "a" * 64,
        },
        {**head, "type": "camera_probe", "camera_id": camera.camera_id, "node_id": camera.node_id, "status": "ok"},
        {**head, "type": "node_heartbeat", "node_id": camera.node_id, "cameras_total": 3, "cameras_online": 3},
    ]


@st.composite
def hostile_record(draw: st.DrawFn, bases: list[dict[str, Any]], foreign: dict[str, str]) -> Any:
    """A record for one stream's endpoint: mostly a mutated valid event, sometimes not an object at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(HOSTILE_VALUES)
    record = dict(draw(st.sampled_from(bases)))
    record["event_id"] = draw(st.sampled_from([f"fz-{next(_ids)}", "fz-dup", "", "x" * 500]))
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from(sorted(record)))
        action = draw(st.integers(0, 9))
        if action <= 4:
            record[field] = draw(HOSTILE_VALUES)
        elif action == 5:
            del record[field]
        elif action == 6:
            record[draw(st.text(min_size=1, max_size=20))] = draw(HOSTILE_VALUES)
        elif action == 7 and field in foreign:
            record[field] = foreign[field]  # an entity of another city
        else:
            delta = draw(
                st.sampled_from([timedelta(days=-4000), timedelta(days=-8), timedelta(hours=1), timedelta(days=3650)])
            )
            record["occurred_at"] = (datetime.now(UTC) + delta).isoformat()
    return record


#: Deterministic, no example database, and no complaint about the large inputs that are the point.
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


def hostile_batches(
    registry: Registry, city: int, other_city: int, now: datetime
) -> st.SearchStrategy[tuple[str, list[Any]]]:
    """(stream, 20-40 hostile records) for a node of `city`; foreign mutations borrow `other_city`'s entities."""
    bases = base_events(registry, city, now)
    by_stream = {"queue": bases[0:1], "window": bases[1:2], "evaluation": bases[2:3], "video": bases[3:5]}
    foreign = {
        k: v
        for e in base_events(registry, other_city, now)
        for k, v in e.items()
        if (k.endswith("_id") and k != "event_id") or k == "source"
    }
    return st.sampled_from(sorted(by_stream)).flatmap(
        lambda s: st.tuples(st.just(s), st.lists(hostile_record(by_stream[s], foreign), min_size=20, max_size=40))
    )
