"""The benchmark's arithmetic: percentiles from a histogram's buckets, and the load's id stamping."""

from __future__ import annotations

import json

from tests.bench.load import Body
from tests.bench.run import Row, _targets_text, histogram_quantile, targets


def test_a_quantile_is_interpolated_inside_its_bucket_over_the_window_only() -> None:
    before = {0.1: 10.0, 0.5: 10.0, 1.0: 10.0, float("inf"): 10.0}  # observed before the window: ignored
    after = {0.1: 10.0, 0.5: 60.0, 1.0: 110.0, float("inf"): 110.0}  # 50 in (0.1, 0.5], 50 in (0.5, 1.0]
    assert histogram_quantile(before, after, 0.5) == 0.5
    assert abs(histogram_quantile(before, after, 0.25) - 0.3) < 1e-9
    assert abs(histogram_quantile(before, after, 0.99) - (0.5 + 0.5 * 49.0 / 50.0)) < 1e-9


def test_nothing_observed_has_no_quantile_and_the_open_bucket_gives_its_lower_bound() -> None:
    same = {1.0: 5.0, float("inf"): 5.0}
    assert histogram_quantile(same, same, 0.5) is None
    assert histogram_quantile({}, {1.0: 0.0, float("inf"): 4.0}, 0.5) == 1.0


def test_each_pass_of_the_load_has_new_event_ids_and_the_same_records_otherwise() -> None:
    data = json.dumps(
        {"source": "node-440100", "events": [{"event_id": "e1", "seq": 1}, {"event_id": "e2", "seq": 2}]},
        separators=(",", ":"),
    ).encode()
    body = Body("queue", "node-440100", data, 2)
    assert [r["event_id"] for r in body.records(0)] == ["e1", "e2"]
    assert [r["event_id"] for r in body.records(3)] == ["r3-e1", "r3-e2"]
    assert [r["seq"] for r in body.records(3)] == [1, 2]


def test_an_alert_that_never_fired_fails_its_latency_target_whatever_the_others_took() -> None:
    """Percentiles are over the alerts that fired; a miss is later than any limit, so the target is not met."""
    row = Row(
        "govpulse (gateway → alerts)",
        8000,
        events_per_s=20_000.0,
        event_alert_p99_s=1.2,
        indicator_alert_p99_s=9.0,
        anomalies_injected=15,
        event_alerts_seen=15,
        indicator_alerts_seen=13,
    )
    judged = {t["target"]: t for t in targets([row])}
    assert judged["event-rule alert p99 s"]["met"] is True
    assert judged["indicator-rule alert p99 s"]["met"] is False and judged["indicator-rule alert p99 s"]["missed"] == 2
    assert "NOT met: 2 never fired in time" in _targets_text(list(judged.values()))
    assert judged["govpulse / peer"]["met"] is None  # no peer row: not measured, not failed
