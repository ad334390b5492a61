"""Roles and city scope, passwords and the user file: the rules the monitoring center's API enforces."""

from __future__ import annotations

import pytest

from connectors.center import alert_view
from streams.alerts.model import Matcher
from streams.auth.access import Forbidden, Principal, alert_city
from streams.auth.passwords import WeakPassword, check_strength, hash_password, verify_password
from streams.auth.users import UserError, UserStore, new_user

CITY = Principal("gz", "city_operator", "440100")
PROVINCE = Principal("p", "province_operator", None)
VIEWER = Principal("v", "viewer", None)


def test_passwords_hash_with_a_salt_and_verify() -> None:
    a, b = hash_password("correct-horse-1"), hash_password("correct-horse-1")
    assert a != b and a.startswith("scrypt$")
    assert verify_password("correct-horse-1", a) and not verify_password("correct-horse-2", a)
    assert not verify_password("anything", "garbage") and not verify_password("x", "md5$1$1$1$AA==$AA==")


@pytest.mark.parametrize("weak", ["short1", "a" * 300, "onlyletters", "1234567890123"])
def test_weak_passwords_are_refused(weak: str) -> None:
    with pytest.raises(WeakPassword):
        check_strength(weak)


def test_user_rules(tmp_path) -> None:
    with pytest.raises(UserError, match="needs --city"):
        new_user("gz", "city_operator", "Passw0rd-long", city=None)
    with pytest.raises(UserError, match="whole province"):
        new_user("prov", "province_operator", "Passw0rd-long", city="440100")
    with pytest.raises(UserError, match="username"):
        new_user("Bad Name", "viewer", "Passw0rd-long", city=None)
    with pytest.raises(UserError, match="not one of"):
        new_user("gz", "city_operator", "Passw0rd-long", city="999999", known_cities={"440100"})
    store = UserStore(tmp_path / "users.json")
    store.put(new_user("gz", "city_operator", "Passw0rd-long", city="440100"))
    again = UserStore(tmp_path / "users.json")
    assert again.get("gz").city == "440100" and "Passw0rd-long" not in (tmp_path / "users.json").read_text()
    assert again.remove("gz") and store.get("gz") is None  # the first store sees the change on the file


def test_a_city_operator_acts_on_their_own_city_only() -> None:
    CITY.may_act_on("440100")
    with pytest.raises(Forbidden):
        CITY.may_act_on("440300")
    with pytest.raises(Forbidden):
        CITY.may_act_on(None)  # a province-wide alert belongs to the province
    PROVINCE.may_act_on("440300")
    with pytest.raises(Forbidden):
        VIEWER.may_act_on("440100")
    with pytest.raises(Forbidden):
        CITY.require_province_operator()


def test_a_city_operators_silence_is_pinned_to_their_city() -> None:
    scoped = CITY.scoped_matchers([Matcher("rule", "=", "hall_long_wait")])
    assert Matcher("city", "=", "440100") in scoped
    for bad in (Matcher("city", "=", "440300"), Matcher("city", "=~", "44.*"), Matcher("city", "!=", "440100")):
        with pytest.raises(Forbidden):
            CITY.scoped_matchers([Matcher("rule", "=", "x"), bad])
    assert PROVINCE.scoped_matchers([Matcher("rule", "=", "x")]) == [Matcher("rule", "=", "x")]
    assert CITY.owns_silence(scoped) and not CITY.owns_silence([Matcher("rule", "=", "x")])
    with pytest.raises(Forbidden):
        VIEWER.scoped_matchers([Matcher("rule", "=", "x")])


def _alert(**over: object) -> dict:
    base = {
        "fingerprint": "f",
        "rule_id": "r",
        "group": {"hall": "H1"},
        "labels": {"city": "440100", "domain": "queue"},
        "state": "firing",
        "severity": "warning",
        "episode": 1,
        "started_at": "2026-11-21T01:00:00+00:00",
        "fired_at": "2026-11-21T01:00:00+00:00",
        "resolved_at": None,
        "evidence": {},
        "ack": None,
        "silenced_by": None,
        "inhibited_by": None,
    }
    return {**base, **over}


def test_board_state_and_order() -> None:
    assert alert_view.board_state(_alert()) == "firing"
    assert alert_view.board_state(_alert(ack={"by": "x"})) == "acknowledged"
    assert alert_view.board_state(_alert(ack={"by": "x"}, silenced_by="s1")) == "silenced"
    assert alert_view.board_state(_alert(inhibited_by="f2")) == "silenced"
    assert alert_view.board_state(_alert(state="resolved", silenced_by="s1")) == "resolved"
    views = [
        {"severity": "warning", "fired_at": "2026-11-21T03:00:00+00:00"},
        {"severity": "critical", "fired_at": "2026-11-21T01:00:00+00:00"},
        {"severity": "warning", "fired_at": "2026-11-21T04:00:00+00:00"},
        {"severity": "info", "fired_at": "2026-11-21T05:00:00+00:00"},
    ]
    order = [(v["severity"], v["fired_at"][11:13]) for v in sorted(views, key=alert_view.sort_key)]
    assert order == [("critical", "01"), ("warning", "04"), ("warning", "03"), ("info", "05")]
    assert alert_city(_alert()) == "440100" and alert_city(_alert(labels={})) is None


def test_webhooks_may_reach_allow_listed_hosts_only() -> None:
    from pydantic import ValidationError

    from agents.settings import Settings

    ok = Settings(
        webhooks={"duty": "https://oa.example.gov.cn/hook?token=s3cret"}, webhook_allowed_hosts=["oa.example.gov.cn"]
    )
    assert ok.webhooks["duty"].get_secret_value().endswith("s3cret")
    for url in (
        "http://127.0.0.1:6379/",
        "http://169.254.169.254/latest/meta-data",
        "https://oa.example.gov.cn.evil.io/h",
        "file:///etc/passwd",
    ):
        with pytest.raises(ValidationError) as err:
            Settings(webhooks={"duty": url}, webhook_allowed_hosts=["oa.example.gov.cn"])
        assert "webhook 'duty'" in str(err.value) and url not in str(err.value)  # named, URL (a secret) not shown
