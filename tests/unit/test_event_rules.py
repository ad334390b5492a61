"""Frequency and absence rules, fed events and a manual clock."""

from datetime import UTC, datetime, timedelta, timezone

from streams.alerts.lifecycle import AlertBook
from streams.rules.event_rules import AbsenceRule, FrequencyRule, PersistentRule

T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _bad(n: int, staff: str = "S1") -> dict:
    return {"event_id": f"e{n}", "level": "dissatisfied", "staff_id": staff, "hall_id": "H440106001"}


def test_frequency_fires_at_the_count_within_the_window_and_clears_when_it_ages_out() -> None:
    """3 bad reviews for one staff within 10 min fire; after the window passes, tick clears it."""
    rule = FrequencyRule(
        "bad_burst", "evaluation", {"level": ["dissatisfied", "very_dissatisfied"]}, ("staff_id",), 3, 600
    )
    assert rule.add(_bad(1), T0, 440100) == []
    assert rule.add(_bad(2), T0 + timedelta(minutes=1), 440100) == []
    (obs,) = rule.add(_bad(3), T0 + timedelta(minutes=2), 440100)
    assert (
        obs.breached
        and obs.group == {"city": "440100", "staff": "S1"}
        and obs.evidence["event_ids"] == ["e1", "e2", "e3"]
    )
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
    """A node expected every 60 s is breached after 3 silent minutes, including one that never sent.

    A beat clears it.
    """
    rule = AbsenceRule("node_offline", "video", {"type": ["node_heartbeat"]}, ("node_id",), 60, 3)
    rule.expect([{"city": "440300", "node": "VN440300"}], since=T0)
    rule.add({"event_id": "b1", "type": "node_heartbeat", "node_id": "VN440100"}, T0, 440100)
    assert rule.tick(T0 + timedelta(seconds=170)) == []
    fired = rule.tick(T0 + timedelta(seconds=181))
    assert sorted(o.group["node"] for o in fired if o.breached) == ["VN440100", "VN440300"]
    assert {o.evidence["silent_for"] for o in fired} == {"3m"}  # whole minutes, for the message
    assert fired[0].evidence["last_seen_local"] == T0.astimezone(timezone(timedelta(hours=8))).strftime(
        "%m-%d %H:%M:%S"
    )
    (cleared,) = rule.add(
        {"event_id": "b2", "type": "node_heartbeat", "node_id": "VN440100"}, T0 + timedelta(seconds=200), 440100
    )
    assert cleared.cleared and cleared.group == {"city": "440100", "node": "VN440100"}
    later = rule.tick(T0 + timedelta(seconds=210))
    assert [(o.group["node"], o.breached) for o in later] == [("VN440100", False), ("VN440300", True)]
    assert [o.group["node"] for o in rule.tick(T0 + timedelta(seconds=220))] == ["VN440300"]


def test_a_clear_older_than_the_books_last_look_is_sent_again_at_the_next_tick() -> None:
    """The beat that ends an outage arrives after a later tick: the book drops its clear as stale.

    The clear the next tick sends counts.
    """
    book = AlertBook()
    book.register_rule("node_offline", severity="critical")
    rule = AbsenceRule("node_offline", "video", {"type": ["node_heartbeat"]}, ("node_id",), 60, 3)
    rule.add({"event_id": "b1", "type": "node_heartbeat", "node_id": "VN440100"}, T0, 440100)
    for obs in rule.tick(T0 + timedelta(seconds=190)) + rule.tick(T0 + timedelta(seconds=205)):
        book.observe(obs)
    (alert,) = book.active()
    assert alert.state == "firing"
    (late,) = rule.add(
        {"event_id": "b2", "type": "node_heartbeat", "node_id": "VN440100"}, T0 + timedelta(seconds=200), 440100
    )
    assert book.observe(late) == [] and book.active()[0].state == "firing"  # older than the tick at 205: stale
    for obs in rule.tick(T0 + timedelta(seconds=210)):
        book.observe(obs)
    assert [a.state for a in book.active()] == []


def test_a_node_is_offline_after_three_of_its_own_intervals() -> None:
    """With interval_field, a node beating every 10 s is silent after 30 s.

    One that never said its interval falls back to 60 s × 3.
    """
    rule = AbsenceRule("node_offline", "video", {"type": ["node_heartbeat"]}, ("node_id",), 60, 3, "interval_s")
    rule.add({"event_id": "b1", "type": "node_heartbeat", "node_id": "VN1", "interval_s": 10}, T0, 440100)
    rule.add({"event_id": "b2", "type": "node_heartbeat", "node_id": "VN2"}, T0, 440100)
    assert rule.tick(T0 + timedelta(seconds=29)) == []
    (fired,) = rule.tick(T0 + timedelta(seconds=31))
    assert fired.group["node"] == "VN1" and fired.breached and fired.evidence["silent_for"] == "31s"
    assert {o.group["node"] for o in rule.tick(T0 + timedelta(seconds=181))} == {"VN1", "VN2"}


def _probe(n: int, status: str, camera: str = "C1") -> dict:
    return {"event_id": f"p{n}", "type": "camera_probe", "camera_id": camera, "status": status}


def test_a_persistent_state_is_observed_from_its_first_event_and_cleared_by_the_next_good_one() -> None:
    """Black, frozen, black: one run since the first; ok ends it; a lone good probe says nothing."""
    rule = PersistentRule(
        "cam", "video", {"type": ["camera_probe"]}, ("camera_id",), {"status": ["black", "frozen"]}, 1200
    )
    assert rule.add(_probe(0, "ok", "C2"), T0, 440100) == []
    seen = [
        rule.add(_probe(i, s), T0 + timedelta(minutes=5 * i), 440100)[0]
        for i, s in enumerate(["black", "frozen", "black"])
    ]
    assert all(o.breached for o in seen) and seen[-1].value == 600.0
    assert seen[-1].evidence["since"] == T0.isoformat() and seen[-1].evidence["state_for"] == "10m"
    assert seen[-1].evidence["event_ids"] == ["p0", "p1", "p2"] and seen[-1].evidence["state_value"] == "black"
    (ticked,) = rule.tick(T0 + timedelta(minutes=12))
    assert ticked.breached and ticked.value == 720.0  # the timer carries it on between probes
    (cleared,) = rule.add(_probe(3, "ok"), T0 + timedelta(minutes=15), 440100)
    assert cleared.cleared and not cleared.breached
    assert rule.add(_probe(4, "ok"), T0 + timedelta(minutes=20), 440100) == []
    assert rule.add(_probe(2, "black"), T0 + timedelta(minutes=10), 440100) == []  # a redelivery changes nothing


def test_a_persistent_state_expires_when_its_events_stop() -> None:
    rule = PersistentRule("cam", "video", {"type": ["camera_probe"]}, ("camera_id",), {"status": ["black"]}, 1200)
    rule.add(_probe(0, "black"), T0, 440100)
    assert rule.tick(T0 + timedelta(minutes=19))[0].breached
    (gone,) = rule.tick(T0 + timedelta(minutes=21))
    assert gone.cleared and gone.evidence == {"expired": True}
    assert rule.tick(T0 + timedelta(minutes=30)) == []


def test_the_book_fires_a_persistent_rule_only_after_its_for() -> None:
    """The rule's `for` is the book's pending time: 90 minutes of black probes fire, 85 do not."""
    book = AlertBook()
    book.register_rule("cam", severity="warning", for_s=90 * 60)
    rule = PersistentRule("cam", "video", {"type": ["camera_probe"]}, ("camera_id",), {"status": ["black"]}, 1200)
    notices = []
    for i in range(19):  # probes at 0, 5, ..., 90 minutes
        notices += book.observe_all(rule.add(_probe(i, "black"), T0 + timedelta(minutes=5 * i), 440100))
        if i == 17:
            assert notices == []
    assert [n.kind for n in notices] == ["firing"]
