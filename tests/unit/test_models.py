"""The event models: what each stream accepts and refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from streams.definitions import STREAMS
from streams.models.wire import BatchDecodeError, decode_batch, encode_batch_parts
from streams.schema_export import export, schemas

BASE = {
    "event_id": "e-1",
    "source": "node-440100",
    "seq": 1,
    "occurred_at": "2026-11-21T02:00:00+00:00",
    "sent_at": "2026-11-21T02:00:01+00:00",
}


def _validate(stream: str, **fields):
    return STREAMS[stream].adapter.validate_python({**BASE, **fields})


def test_a_called_ticket_needs_its_window() -> None:
    """ticket_called without a window is refused; with one it is accepted."""
    with pytest.raises(ValidationError, match="window_id is required"):
        _validate("queue", type="ticket_called", hall_id="H440106001", ticket_no="A001")
    assert _validate("queue", type="ticket_called", hall_id="H440106001", ticket_no="A001", window_id="H440106001-W01")


def test_naive_timestamps_and_unknown_fields_are_refused() -> None:
    """A timestamp without zone, or a field the contract does not know, fails validation."""
    with pytest.raises(ValidationError):
        _validate("queue", type="ticket_issued", hall_id="H1", ticket_no="A1", occurred_at="2026-11-21T02:00:00")
    with pytest.raises(ValidationError, match="Extra inputs"):
        _validate("queue", type="ticket_issued", hall_id="H1", ticket_no="A1", phone="13800138000")


def test_an_evaluator_in_clear_is_refused() -> None:
    """Only a salted SHA-256 digest may identify the evaluator, never a phone number."""
    fields = dict(
        type="evaluation",
        case_no="C1",
        item_id="S01001",
        dept_id="D440000-01",
        level="satisfied",
        channel="yueshengshi",
        mode="active",
    )
    with pytest.raises(ValidationError, match="evaluator_hash"):
        _validate("evaluation", **fields, evaluator_hash="13800138000")
    assert _validate("evaluation", **fields, evaluator_hash="a" * 64).level == "satisfied"


def test_an_offline_evaluation_names_its_hall() -> None:
    """An evaluation from the hall pad without a hall is refused."""
    with pytest.raises(ValidationError, match="hall_id is required"):
        _validate(
            "evaluation",
            type="evaluation",
            case_no="C1",
            item_id="S1",
            dept_id="D1",
            level="satisfied",
            channel="hall_pad",
            mode="active",
            evaluator_hash="b" * 64,
        )


def test_video_events_are_told_apart_by_type() -> None:
    """The video stream carries heartbeats and probes; NaN scores and impossible counts are refused."""
    beat = _validate("video", type="node_heartbeat", node_id="VN440100", cameras_total=10, cameras_online=9)
    assert type(beat).__name__ == "NodeHeartbeat"
    with pytest.raises(ValidationError):
        _validate("video", type="node_heartbeat", node_id="VN440100", cameras_total=1, cameras_online=2)
    with pytest.raises(ValidationError):
        _validate(
            "video", type="camera_probe", camera_id="C1", node_id="VN440100", status="ok", scores={"blur": float("nan")}
        )


def test_a_case_transfer_names_where_it_goes() -> None:
    """case_transferred needs a target department and a direction."""
    with pytest.raises(ValidationError):
        _validate("case", type="case_transferred", case_id="K1", case_no="C1", dept_id="D1")
    ok = _validate(
        "case", type="case_transferred", case_id="K1", case_no="C1", dept_id="D1", to_dept_id="D2", direction="up"
    )
    assert ok.direction == "up"


def test_batches_round_trip_and_garbage_is_a_decode_error() -> None:
    """A batch survives encoding; non-JSON, a non-object or a future version cannot be decoded."""
    raw = encode_batch_parts(stream="queue", source="node-440100", batch_id="b1", received_at=None, events=[{"x": 1}])
    assert decode_batch(raw).events == [{"x": 1}]
    for bad in (
        b"\xff\x00",
        b"[1,2]",
        b'{"v": 99, "stream": "queue", "source": "s", "batch_id": "b", "events": []}',
        b'{"v": []}',
        b'{"v": {"a": 1}}',
        b'{"v": true}',
        b"",
        None,
    ):  # the unhashable ones were found by atheris
        with pytest.raises(BatchDecodeError):
            decode_batch(bad)


def test_every_stream_exports_a_json_schema() -> None:
    """The exported schemas cover all five streams and the batch envelope, and forbid extra fields."""
    out = schemas()
    assert set(out) == {f"{n}.v1.schema.json" for n in ("queue", "window", "evaluation", "case", "video", "batch")}
    assert out["queue.v1.schema.json"]["additionalProperties"] is False


def test_the_published_schemas_are_the_ones_the_models_generate(tmp_path: Path) -> None:
    """docs/schemas is what `govpulse schema export` writes: a model change without `make schemas` fails here."""
    published = Path(__file__).resolve().parents[2] / "docs" / "schemas"
    for path in export(tmp_path):
        assert path.read_text(encoding="utf-8") == (published / path.name).read_text(encoding="utf-8"), path.name
