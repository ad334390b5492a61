"""Validation and registry resolution, with a small generated registry and a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.definitions import STREAMS
from streams.registry.generate import generate
from streams.validation import Validator

NOW = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def registry():
    return generate(halls=150)


def _queue(registry, city: int, **overrides):
    hall = registry.halls_in_city(city)[0]
    window = next(w for w in registry.windows() if w.hall_id == hall.hall_id)
    event = {
        "event_id": f"e-{city}",
        "source": f"node-{city}",
        "seq": 1,
        "occurred_at": (NOW - timedelta(seconds=3)).isoformat(),
        "sent_at": NOW.isoformat(),
        "type": "ticket_called",
        "hall_id": hall.hall_id,
        "ticket_no": "A001",
        "window_id": window.window_id,
    }
    event.update(overrides)
    return event


def _reasons(registry, records, source="node-440100"):
    accepted, rejected = Validator(registry).validate(STREAMS["queue"], source, records, NOW)
    return [a.index for a in accepted], {r.index: r.reason for r in rejected}


def test_a_valid_event_resolves_to_its_city_county_and_hall(registry) -> None:
    """A good record is accepted with the org path of its hall."""
    event = _queue(registry, 440100)
    accepted, rejected = Validator(registry).validate(STREAMS["queue"], "node-440100", [event], NOW)
    assert rejected == []
    hall = registry.hall(event["hall_id"])
    assert (accepted[0].city_code, accepted[0].county_code, accepted[0].hall_id) == (
        440100,
        hall.county_code,
        hall.hall_id,
    )


def test_each_bad_record_gets_its_own_reason(registry) -> None:
    """Schema, unknown hall, foreign window, other city, future and stale records each get the right reason."""
    other_hall = registry.halls_in_city(440100)[1]
    foreign_window = next(w for w in registry.windows() if w.hall_id == other_hall.hall_id)
    records = [
        _queue(registry, 440100),
        {"event_id": "x"},
        _queue(registry, 440100, hall_id="H999999999"),
        _queue(registry, 440100, window_id=foreign_window.window_id),
        _queue(registry, 440300, source="node-440100"),
        _queue(registry, 440100, occurred_at=(NOW + timedelta(hours=1)).isoformat()),
        _queue(registry, 440100, occurred_at=(NOW - timedelta(days=8)).isoformat()),
        _queue(registry, 440100, source="node-440300"),
        42,
    ]
    accepted, reasons = _reasons(registry, records)
    assert accepted == [0]
    assert reasons == {
        1: "schema",
        2: "unknown_entity",
        3: "unknown_entity",
        4: "scope_violation",
        5: "future",
        6: "too_old",
        7: "scope_violation",
        8: "malformed",
    }


def test_an_unknown_source_has_all_its_records_rejected(registry) -> None:
    """A sender missing from the registry cannot get anything accepted."""
    event = _queue(registry, 440100, source="node-999900")
    accepted, reasons = _reasons(registry, [event], source="node-999900")
    assert accepted == [] and reasons == {0: "unknown_entity"}


def test_schema_detail_names_the_field(registry) -> None:
    """The reason detail points at the offending field."""
    event = _queue(registry, 440100, seq=-1)
    _, rejected = Validator(registry).validate(STREAMS["queue"], "node-440100", [event], NOW)
    assert rejected[0].detail.startswith("seq:")


def test_a_camera_probe_must_come_from_the_cameras_node(registry) -> None:
    """A probe naming another node than the camera's is an unknown entity; the camera's own node is fine."""
    camera = next(c for c in registry.cameras() if c.node_id == "VN440100")
    base = {
        "event_id": "p1",
        "source": "VN440100",
        "seq": 1,
        "occurred_at": NOW.isoformat(),
        "sent_at": NOW.isoformat(),
        "type": "camera_probe",
        "camera_id": camera.camera_id,
        "status": "ok",
    }
    v = Validator(registry)
    ok, bad = v.validate(
        STREAMS["video"], "VN440100", [dict(base, node_id="VN440100"), dict(base, node_id="VN440300")], NOW
    )
    assert [a.index for a in ok] == [0] and bad[0].reason == "unknown_entity"
