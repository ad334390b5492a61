"""Frequency and absence rules, fed events and a manual clock."""

from datetime import UTC, datetime, timedelta, timezone

from streams.rules.event_rules import AbsenceRule, FrequencyRule

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _bad(n: int, staff: str = "S1") -> dict:
    return {"event_id": f"e{n}", "level": "dissatisfied", "staff_id": staff, "hall_id": "H440106001"}


def test_frequency_fires_at_the_count_within_the_window_and_clears_when_it_ages_out() -> None:
    """3 bad reviews for one staff within 10 min fire; after the window passes, tick clears it."""
    rule = FrequencyRule("bad_burst", "evaluation", {"level": ["dissatisfied", "very_dissatisfied"]}, ("staff_id",), 3, 600)
    assert rule.add(_bad(1), T0, 440100) == []
    assert rule.add(_bad(2), T0 + timedelta(minutes=1), 440100) == []
    (obs,) = rule.add(_bad(3), T0 + timedelta(minutes=2), 440100)
    assert obs.breached and obs.group == {"city": "440100", "staff": "S1"} and obs.evidence["event_ids"] == ["e1", "e2", "e3"]
    (later,) = rule.tick(T0 + timedelta(minutes=11))
    assert later.cleared and later.value == 1.0
    assert rule.tick(T0 + timedelta(minutes=20)) == []  # nothing more to say about a cleared key


def test_frequency_counts_a_redelivered_event_once_and_ignores_other_matches() -> None:
    """The same event id twice counts once; a satisfied review does not count; another staff has its own window."""
    rule = FrequencyRule("bad_burst", "evaluation", {"level": ["dissatisfied"]}, ("staff_id",), 2, 600)
    assert rule.add(_bad(1), T0, 440100) == []
    assert rule.add(_bad(1), T0 + timedelta(seconds=5), 440100) == []
    assert rule.add(dict(_bad(2), level="satisfied"), T0, 440100) == []
    assert rule.add(_bad(3, staff="S2"), T0, 440100) == []
    assert rule.add(_bad(4), T0 + timedelta(seconds=9), 440100)[0].breached


def test_absence_fires_after_missed_intervals_and_clears_on_the_next_event() -> None:
    """A node expected every 60 s is breached after 3 silent minutes, including one that never sent; a beat clears it."""
    rule = AbsenceRule("node_offline", "video", {"type": ["node_heartbeat"]}, ("node_id",), 60, 3)
    rule.expect([{"city": "440300", "node": "VN440300"}], since=T0)
    rule.add({"event_id": "b1", "type": "node_heartbeat", "node_id": "VN440100"}, T0, 440100)
    assert rule.tick(T0 + timedelta(seconds=170)) == []
    fired = rule.tick(T0 + timedelta(seconds=181))
    assert sorted(o.group["node"] for o in fired if o.breached) == ["VN440100", "VN440300"]
    assert {o.evidence["silent_for"] for o in fired} == {"3m"}  # whole minutes, for the message
    assert fired[0].evidence["last_seen_local"] == T0.astimezone(timezone(timedelta(hours=8))).strftime("%m-%d %H:%M:%S")
    (cleared,) = rule.add({"event_id": "b2", "type": "node_heartbeat", "node_id": "VN440100"}, T0 + timedelta(seconds=200), 440100)
    assert cleared.cleared and cleared.group == {"city": "440100", "node": "VN440100"}
    assert [o.group["node"] for o in rule.tick(T0 + timedelta(seconds=210))] == ["VN440300"]
