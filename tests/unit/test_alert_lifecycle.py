"""The alert lifecycle as the duty officer sees it: what fires, resolves, and stays quiet."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streams.alerts.lifecycle import AlertBook, UnknownRule
from streams.alerts.model import (
    InhibitRule,
    Matcher,
    Notice,
    Observation,
    Silence,
    fingerprint,
)

T0 = datetime(2025, 11, 3, 1, 0, tzinfo=UTC)  # 09:00 in Guangzhou
GZ_HALL = {"city": "440100", "hall": "H440106001"}
SZ_HALL = {"city": "440300", "hall": "H440304001"}
ROOT = Path(__file__).resolve().parents[2]


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def breach(rule: str, group: Mapping[str, str], at: float, value: float = 1.0, **labels: str) -> Observation:
    return Observation(rule, group, t(at), breached=True, cleared=False, value=value, labels=labels)


def clear(rule: str, group: Mapping[str, str], at: float, value: float = 0.0) -> Observation:
    return Observation(rule, group, t(at), breached=False, cleared=True, value=value)


def wait_p90(group: Mapping[str, str], at: float, minutes: float) -> Observation:
    """A threshold rule with hysteresis: fires above 30 min, clears below 20 min."""
    return Observation("queue_wait_p90", group, t(at), breached=minutes > 30, cleared=minutes < 20, value=minutes)


def kinds(notices: list[Notice]) -> list[str]:
    return [n.kind for n in notices]


def book_with(rule: str = "queue_wait_p90", **policy: float) -> AlertBook:
    book = AlertBook()
    book.register_rule(rule, severity="major", labels={"scope": "hall"}, **policy)  # type: ignore[arg-type]
    return book


def test_an_alert_fires_once_the_breach_has_lasted_for() -> None:
    """With for=5 min the alert is pending at first breach and fires at 5 min, dated from the first breach."""
    book = book_with(for_s=300)
    assert book.observe(wait_p90(GZ_HALL, 0, 35)) == []
    assert [a.state for a in book.active()] == ["pending"]
    assert book.observe(wait_p90(GZ_HALL, 120, 40)) == []
    notices = book.observe(wait_p90(GZ_HALL, 300, 41))
    assert kinds(notices) == ["firing"]
    alert = notices[0].alert
    assert (alert.started_at, alert.fired_at, alert.last_value, alert.episode) == (t(0), t(300), 41, 1)
    assert notices[0].key == f"{fingerprint('queue_wait_p90', GZ_HALL)}:1:firing"


def test_a_breach_shorter_than_for_never_fires() -> None:
    """A breach that stops before for has elapsed disappears silently, and a new breach starts the clock again."""
    book = book_with(for_s=300)
    book.observe(wait_p90(GZ_HALL, 0, 35))
    assert book.observe(wait_p90(GZ_HALL, 180, 25)) == []
    assert book.active() == []
    book.observe(wait_p90(GZ_HALL, 240, 35))
    assert book.observe(wait_p90(GZ_HALL, 480, 35)) == []
    assert kinds(book.observe(wait_p90(GZ_HALL, 540, 35))) == ["firing"]


def test_for_zero_fires_at_the_first_breach() -> None:
    """A rule without for fires on the first breached observation."""
    book = book_with()
    assert kinds(book.observe(wait_p90(GZ_HALL, 0, 31))) == ["firing"]


def test_hysteresis_keeps_firing_between_threshold_and_clear_and_resolves_once() -> None:
    """Between 20 and 30 minutes nothing changes; below 20 it resolves, and only one resolved notice is sent."""
    book = book_with()
    book.observe(wait_p90(GZ_HALL, 0, 35))
    for at, minutes in [(60, 25), (120, 31), (180, 21)]:
        assert book.observe(wait_p90(GZ_HALL, at, minutes)) == []
    assert [a.state for a in book.active()] == ["firing"]
    resolved = book.observe(wait_p90(GZ_HALL, 240, 18))
    assert kinds(resolved) == ["resolved"] and resolved[0].alert.resolved_at == t(240)
    assert book.observe(wait_p90(GZ_HALL, 300, 15)) == []
    assert book.active() == []


def test_cooldown_suppresses_refiring_and_fires_when_it_has_passed() -> None:
    """Breaches inside a 10 min cooldown are ignored; the first breach after it fires a new episode."""
    book = book_with(cooldown_s=600)
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    book.observe(clear("queue_wait_p90", GZ_HALL, 60))
    assert book.observe(breach("queue_wait_p90", GZ_HALL, 120)) == []
    assert book.observe(breach("queue_wait_p90", GZ_HALL, 600)) == []
    notices = book.observe(breach("queue_wait_p90", GZ_HALL, 660))
    assert kinds(notices) == ["firing"] and notices[0].alert.episode == 2
    assert notices[0].key.endswith(":2:firing")


def test_a_breach_held_through_the_cooldown_counts_toward_for() -> None:
    """A breach that began inside the cooldown and still holds fires as soon as the cooldown ends."""
    book = book_with(cooldown_s=600, for_s=120)
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    book.observe(breach("queue_wait_p90", GZ_HALL, 120))
    book.observe(clear("queue_wait_p90", GZ_HALL, 180))
    assert book.observe(breach("queue_wait_p90", GZ_HALL, 300)) == []
    notices = book.observe(breach("queue_wait_p90", GZ_HALL, 780))
    assert kinds(notices) == ["firing"] and notices[0].alert.started_at == t(300)


def test_a_redelivered_observation_emits_nothing() -> None:
    """The same observation delivered again, even after later ones, fires no second alert."""
    book = book_with()
    first = breach("queue_wait_p90", GZ_HALL, 0)
    assert kinds(book.observe(first)) == ["firing"]
    assert book.observe(first) == []
    book.observe(clear("queue_wait_p90", GZ_HALL, 60))
    assert book.observe(first) == []
    assert book.active() == [] and book.stale_observations == 2


def test_fingerprint_is_the_same_in_another_process() -> None:
    """A process with another PYTHONHASHSEED computes the same fingerprint, whatever the key order."""
    group = {"hall": "H440106001", "city": "440100"}
    code = (
        "from streams.alerts.model import fingerprint; "
        "print(fingerprint('queue_wait_p90', {'hall': 'H440106001', 'city': '440100'}))"
    )
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == fingerprint("queue_wait_p90", dict(reversed(group.items())))
    assert fingerprint("queue_wait_p90", GZ_HALL) != fingerprint("queue_wait_p90", SZ_HALL)


def test_a_flapping_alert_stays_firing_until_clear_for_a_whole_window() -> None:
    """After 3 state changes in 10 min the alert holds firing, marked flapping, until clear for 10 min."""
    book = book_with(flap_window_s=600, max_flaps=3)
    fp = fingerprint("queue_wait_p90", GZ_HALL)
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    book.observe(clear("queue_wait_p90", GZ_HALL, 60))
    book.observe(breach("queue_wait_p90", GZ_HALL, 120))
    assert book.observe(clear("queue_wait_p90", GZ_HALL, 180)) == []
    alert = book.get(fp)
    assert alert is not None and alert.state == "firing" and alert.flapping
    assert book.flaps(fp, since=t(0)) == 3
    book.observe(breach("queue_wait_p90", GZ_HALL, 240))
    for at in (300, 600):
        assert book.observe(clear("queue_wait_p90", GZ_HALL, at)) == []
    resolved = book.observe(clear("queue_wait_p90", GZ_HALL, 900))
    assert kinds(resolved) == ["resolved"] and not resolved[0].alert.flapping


def test_acknowledge_records_who_and_when_once_and_a_new_episode_is_unacked() -> None:
    """An ack names the officer and time, a second ack does nothing, and a re-fired alert needs a new ack."""
    book = book_with()
    fp = fingerprint("queue_wait_p90", GZ_HALL)
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    notices = book.acknowledge(fp, by="张三", at=t(30), comment="已通知大厅")
    assert kinds(notices) == ["acknowledged"] and notices[0].key == f"{fp}:1:acknowledged"
    ack = notices[0].alert.ack
    assert ack is not None and (ack.by, ack.at, ack.comment) == ("张三", t(30), "已通知大厅")
    assert book.acknowledge(fp, by="李四", at=t(40)) == []
    assert book.acknowledge("no-such-alert", by="李四", at=t(40)) == []
    book.observe(clear("queue_wait_p90", GZ_HALL, 60))
    assert book.acknowledge(fp, by="李四", at=t(70)) == []
    refired = book.observe(breach("queue_wait_p90", GZ_HALL, 120))
    assert refired[0].alert.ack is None
    assert book.acknowledge(fp, by="李四", at=t(130))[0].key == f"{fp}:2:acknowledged"


def test_a_silence_mutes_matching_alerts_for_its_time_range() -> None:
    """Alerts matching the silence get marked notices while it lasts and an "unsilenced" notice when it ends."""
    book = book_with()
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    book.observe(breach("queue_wait_p90", SZ_HALL, 0))
    silence = Silence(
        "s1", [Matcher("city", "=", "440100"), Matcher("rule", "=~", "queue_.*")], t(100), t(400), "ops", "大厅系统升级"
    )
    assert book.add_silence(silence, at=t(50)) == []
    started = book.tick(t(100))
    assert kinds(started) == ["silenced"] and started[0].silenced and started[0].alert.group == GZ_HALL
    other_gz_hall = {"city": "440100", "hall": "H440106002"}
    fired = book.observe(breach("queue_wait_p90", other_gz_hall, 200))
    assert kinds(fired) == ["firing"] and fired[0].silenced and fired[0].suppressed
    ended = book.tick(t(400))
    assert kinds(ended) == ["unsilenced", "unsilenced"] and not any(n.silenced for n in ended)
    assert book.silences() == []


def test_removing_a_silence_unsilences_only_alerts_still_firing() -> None:
    """A resolve during a silence is marked silenced, and removing the silence then emits nothing for it."""
    book = book_with()
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    book.observe(breach("queue_wait_p90", SZ_HALL, 0))
    added = book.add_silence(Silence("s1", [Matcher("severity", "=", "major")], t(10), t(3600), "ops"), at=t(10))
    assert kinds(added) == ["silenced", "silenced"]
    resolved = book.observe(clear("queue_wait_p90", SZ_HALL, 20))
    assert kinds(resolved) == ["resolved"] and resolved[0].silenced
    removed = book.remove_silence("s1", at=t(30))
    assert kinds(removed) == ["unsilenced"] and removed[0].alert.group == GZ_HALL
    assert removed[0].key.endswith(":1:unsilenced:1")
    assert book.remove_silence("s1", at=t(40)) == []


def test_regex_matchers_are_anchored_and_bounded() -> None:
    """A regex must match the whole label value; overlong, invalid or match-everything silences are refused."""
    labels = {"hall": "H440106001"}
    assert not Matcher("hall", "=~", "H4401").matches(labels)
    assert Matcher("hall", "=~", "H4401.*").matches(labels)
    assert not Matcher("hall", "=~", "4401.*").matches(labels)
    assert Matcher("hall", "!~", "H4403.*").matches(labels)
    with pytest.raises(ValueError):
        Matcher("hall", "=~", "a" * 1000)
    with pytest.raises(ValueError):
        Matcher("hall", "=~", "H(440")
    with pytest.raises(ValueError):
        Silence("all", [Matcher("city", "=~", ".*")], t(0), t(60), "ops")


def test_a_node_offline_inhibits_its_cameras_until_it_resolves() -> None:
    """While node VN440100 is offline its camera alerts are inhibited, other nodes' are not.

    All are released once it resolves.
    """
    book = AlertBook()
    book.register_rule("node_offline", severity="critical", labels={"kind": "node"})
    book.register_rule("camera_fault", severity="minor", labels={"kind": "camera"})
    book.add_inhibition(InhibitRule({"rule": "node_offline"}, {"kind": "camera"}, ["node"]))
    book.observe(breach("camera_fault", {"camera": "C1"}, 0, node="VN440100"))
    book.observe(breach("camera_fault", {"camera": "C9"}, 0, node="VN440300"))
    notices = book.observe(breach("node_offline", {"node": "VN440100"}, 10))
    node_fp = fingerprint("node_offline", {"node": "VN440100"})
    assert kinds(notices) == ["firing", "inhibited"]
    assert notices[1].alert.group == {"camera": "C1"} and notices[1].inhibited_by == node_fp
    late = book.observe(breach("camera_fault", {"camera": "C2"}, 20, node="VN440100"))
    assert kinds(late) == ["firing"] and late[0].inhibited_by == node_fp and late[0].suppressed
    other = book.get(fingerprint("camera_fault", {"camera": "C9"}))
    assert other is not None and other.inhibited_by is None
    released = book.observe(clear("node_offline", {"node": "VN440100"}, 30))
    assert kinds(released) == ["resolved", "uninhibited", "uninhibited"]
    assert all(n.inhibited_by is None for n in released)


def test_a_city_outage_inhibits_that_citys_hall_alerts() -> None:
    """A city-wide outage for 440100 inhibits Guangzhou hall alerts but not Shenzhen's.

    It releases them when it ends.
    """
    book = book_with()
    book.register_rule("city_outage", severity="critical", labels={"scope": "city"})
    book.add_inhibition(InhibitRule({"rule": "city_outage"}, {"scope": "hall"}, ["city"]))
    book.observe(breach("city_outage", {"city": "440100"}, 0))
    gz = book.observe(breach("queue_wait_p90", GZ_HALL, 10))
    sz = book.observe(breach("queue_wait_p90", SZ_HALL, 10))
    assert gz[0].inhibited_by == fingerprint("city_outage", {"city": "440100"})
    assert sz[0].inhibited_by is None
    released = book.observe(clear("city_outage", {"city": "440100"}, 20))
    assert kinds(released) == ["resolved", "uninhibited"] and released[1].alert.group == GZ_HALL


def test_snapshot_and_restore_keep_state_without_refiring() -> None:
    """A book rebuilt from a JSON snapshot re-fires nothing, keeps acks, silences, pending clocks and cooldowns."""
    book = book_with(for_s=60, cooldown_s=600)
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    fired = book.observe(breach("queue_wait_p90", GZ_HALL, 60))
    book.acknowledge(fired[0].alert.fingerprint, by="张三", at=t(70))
    book.observe(breach("queue_wait_p90", SZ_HALL, 30))
    book.add_silence(Silence("s1", [Matcher("city", "=", "440300")], t(0), t(3600), "ops"), at=t(40))
    json.dumps([n.to_dict() for n in fired])

    restarted = book_with(for_s=60, cooldown_s=600)
    restarted.restore(json.loads(json.dumps(book.snapshot())))
    assert restarted.active() == book.active()
    assert restarted.observe(breach("queue_wait_p90", GZ_HALL, 60)) == []
    assert restarted.observe(breach("queue_wait_p90", GZ_HALL, 120)) == []
    sz = restarted.observe(breach("queue_wait_p90", SZ_HALL, 90))
    assert kinds(sz) == ["firing"] and sz[0].silenced and sz[0].alert.started_at == t(30)
    resolved = restarted.observe(clear("queue_wait_p90", GZ_HALL, 180))
    assert resolved[0].key.endswith(":1:resolved") and resolved[0].alert.ack is not None

    again = book_with(for_s=60, cooldown_s=600)
    again.restore(json.loads(json.dumps(restarted.snapshot())))
    assert again.observe(breach("queue_wait_p90", GZ_HALL, 300)) == []
    assert again.observe(breach("queue_wait_p90", GZ_HALL, 780))[0].alert.episode == 2


def test_resolve_missing_resolves_halls_gone_from_a_timer_round() -> None:
    """A hall absent from the next evaluation round resolves; one still present keeps firing."""
    book = book_with()
    round_1 = [breach("queue_wait_p90", GZ_HALL, 0), breach("queue_wait_p90", SZ_HALL, 0)]
    assert kinds(book.observe_all(round_1)) == ["firing", "firing"]
    book.observe(breach("queue_wait_p90", GZ_HALL, 60))
    gone = book.resolve_missing("queue_wait_p90", {fingerprint("queue_wait_p90", GZ_HALL)}, t(60))
    assert kinds(gone) == ["resolved"] and gone[0].alert.group == SZ_HALL
    assert [a.group for a in book.active()] == [GZ_HALL]
    assert kinds(book.resolve_missing("queue_wait_p90", set(), t(120))) == ["resolved"]
    assert book.resolve_missing("queue_wait_p90", set(), t(180)) == []


def test_an_unregistered_rule_is_refused() -> None:
    """Observing a rule nobody registered is an error, not a silent drop."""
    with pytest.raises(UnknownRule):
        AlertBook().observe(breach("nope", GZ_HALL, 0))


def test_prune_forgets_quiet_groups_but_keeps_counting_episodes() -> None:
    """After pruning, an old redelivery is ignored and a new firing continues the episode count."""
    book = book_with()
    book.observe(breach("queue_wait_p90", GZ_HALL, 0))
    book.observe(clear("queue_wait_p90", GZ_HALL, 60))
    assert book.prune(t(3600)) == 1
    assert book.get(fingerprint("queue_wait_p90", GZ_HALL)) is None
    assert book.observe(breach("queue_wait_p90", GZ_HALL, 0)) == []
    assert book.observe(breach("queue_wait_p90", GZ_HALL, 4000))[0].alert.episode == 2
