"""What a duty officer may ask of the board: limits on comments, silences and matchers, and refused acknowledgements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from streams.alerts.actions import (
    MAX_COMMENT,
    MAX_SILENCE_S,
    BadRequest,
    city_of,
    comment,
    not_acknowledgeable,
    parse_matchers,
    silence_span,
)
from streams.alerts.model import Ack, Alert, AlertState

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def _alert(state: AlertState, *, acked: bool = False) -> Alert:
    return Alert(
        "fp",
        "hall_bad_review_burst",
        {"city": "440100"},
        state,
        "warning",
        {},
        1,
        NOW,
        ack=Ack("duty", NOW, "") if acked else None,
    )


def test_a_silence_of_everything_is_refused() -> None:
    """Matchers that only exclude, or only match any value, would silence every alert of the province."""
    for items in (
        [{"label": "city", "op": "!=", "value": "440100"}],
        [{"label": "rule", "op": "=~", "value": ".*"}, {"label": "city", "op": "=~", "value": ".+"}],
    ):
        with pytest.raises(BadRequest, match="narrows"):
            parse_matchers(items)
    narrowed = parse_matchers(
        [{"label": "city", "op": "=", "value": "440100"}, {"label": "x", "op": "!=", "value": "1"}]
    )
    assert city_of(narrowed) == "440100"


def test_matchers_are_a_short_list_of_string_triples() -> None:
    """Not a list, too many, a missing op or an overlong label are each refused with what is expected."""
    for items, expected in (
        ("city=440100", "list of 1 to"),
        ([{"label": "city", "op": "=", "value": str(n)} for n in range(11)], "list of 1 to"),
        ([{"label": "city", "value": "440100"}], "string values"),
        ([{"label": "c" * 65, "op": "=", "value": "1"}], "1-64 characters"),
        ([{"label": "city", "op": "==", "value": "1"}], "unknown operator"),
    ):
        with pytest.raises(BadRequest, match=expected):
            parse_matchers(items)


def test_a_silence_lasts_a_minute_to_thirty_days() -> None:
    assert silence_span(3600, NOW) == (NOW, NOW + timedelta(hours=1))
    for duration in (59, MAX_SILENCE_S + 1, 3600.0, True, "3600", None):
        with pytest.raises(BadRequest, match="duration_s"):
            silence_span(duration, NOW)


def test_a_comment_is_trimmed_and_bounded() -> None:
    assert comment(None) == ""
    assert comment("  on site  ") == "on site"
    with pytest.raises(BadRequest):
        comment("x" * (MAX_COMMENT + 1))
    with pytest.raises(BadRequest):
        comment(42)


def test_a_refused_acknowledgement_says_what_the_alert_is_now() -> None:
    assert str(not_acknowledgeable(None)).endswith("this one is resolved")
    assert str(not_acknowledgeable(_alert("resolved"))).endswith("this one is resolved")
    assert str(not_acknowledgeable(_alert("firing", acked=True))).endswith("this one is already acknowledged")
    assert str(not_acknowledgeable(_alert("pending"))).endswith("this one is pending")
