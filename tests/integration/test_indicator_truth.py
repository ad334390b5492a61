"""A small day in 佛山 (440600), scripted by hand, through the real gateway, worker and chDB.

Every expected value below is worked out by hand from the script, so a
wrong definition or a wrong view shows up as a wrong number. Times are local
(Asia/Shanghai) on the day before the test runs; percentiles interpolate
linearly between ranks: p(q) of sorted x[0..n-1] is x[k] + f * (x[k+1] - x[k])
with k + f = q * (n - 1).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from streams.indicators.query import IndicatorQuery
from streams.indicators.service import run
from streams.workdays import SHANGHAI
from tests.integration.helpers import eventually

FS = 440600
# The script counts everything 佛山's nodes send, through its own halls and county: the pool reserves the city for
# this module for the whole session, and no other test sends for it.
pytestmark = [pytest.mark.integration, pytest.mark.reserve_cities(FS)]
SOURCE = f"node-{FS}"
NODE = f"VN{FS}"
H1, H2 = "H440604001", "H440604002"  # both with the default 30-minute wait target


class Script:
    """Builds the day's events with rising seq numbers, skipping the ones we say are lost."""

    def __init__(self, stack, day: datetime) -> None:
        self.stack = stack
        self.day = day
        self.seq = 0
        self.run = f"{datetime.now(UTC).timestamp():.0f}"
        self.windows = {h: [w.window_id for w in stack.registry.windows() if w.hall_id == h][:2] for h in (H1, H2)}
        self.item_id, self.dept_id = foshan_item(stack.registry)

    def at(self, hhmmss: str) -> str:
        h, m, s = (int(x) for x in hhmmss.split(":"))
        return (self.day + timedelta(hours=h, minutes=m, seconds=s)).astimezone(UTC).isoformat()

    def _base(self, kind: str, when: str) -> dict:
        self.seq += 1
        return {
            "event_id": f"truth-{self.run}-{self.seq}",
            "source": SOURCE,
            "seq": self.seq,
            "occurred_at": self.at(when),
            "sent_at": datetime.now(UTC).isoformat(),
            "type": kind,
        }

    def skip_seq(self, n: int) -> None:
        self.seq += n

    def ticket(self, hall: str, no: str, kind: str, when: str) -> dict:
        event = self._base(kind, when) | {
            "hall_id": hall,
            "ticket_no": no,
            "item_id": self.item_id,
            "dept_id": self.dept_id,
        }
        if kind not in ("ticket_issued", "ticket_walkout"):
            event["window_id"] = self.windows[hall][0]
        return event

    def window(self, hall: str, index: int, kind: str, when: str) -> dict:
        event = self._base(kind, when) | {"hall_id": hall, "window_id": self.windows[hall][index]}
        if kind.startswith("staff_"):
            event["staff_id"] = "S0001"
        return event

    def probe(self, camera: str, when: str, status: str) -> dict:
        event = self._base("camera_probe", when) | {"camera_id": camera, "node_id": NODE, "status": status}
        return event | {"source": NODE}

    def beat(self, when: str) -> dict:
        return self._base("node_heartbeat", when) | {
            "source": NODE,
            "node_id": NODE,
            "cameras_total": 2,
            "cameras_online": 2,
            "interval_s": 60,
        }

    def case(self, case_id: str, kind: str, days_before: int, when: str, deadline: int | None = 0) -> dict:
        """A step of a case owned by 佛山's first city department, `days_before` days before the scripted day."""
        h, m = (int(x) for x in when.split(":"))
        at = (self.day - timedelta(days=days_before) + timedelta(hours=h, minutes=m)).astimezone(UTC).isoformat()
        event = self._base(kind, "00:00:00") | {
            "occurred_at": at,
            "case_id": f"{case_id}-{self.run}",
            "case_no": f"BJ-{case_id}-{self.run}",
            "dept_id": f"D{FS}-01",
        }
        if deadline is not None:
            event["deadline_working_days"] = deadline
        return event

    def evaluation(self, when: str, level: str, *, hall: str | None, device: str | None, mode: str = "active") -> dict:
        event = self._base("evaluation", when) | {
            "case_no": f"BJ{self.run}{self.seq}",
            "item_id": self.item_id,
            "dept_id": self.dept_id,
            "level": level,
            "channel": "hall_pad" if hall else "yueshengshi",
            "mode": mode,
            "evaluator_hash": hashlib.sha256(f"salt-{self.seq}".encode()).hexdigest(),
        }
        if hall:
            event |= {"hall_id": hall, "window_id": self.windows[hall][0]}
        if device:
            event["device_id"] = device
        return event


async def _post(stack, stream: str, events: list[dict], source: str = SOURCE) -> dict:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{stack.base_url}/api/v1/ingest/{stream}",
            json={"source": source, "events": events},
            headers={"Authorization": f"Bearer {stack.demo_tokens[source]}"},
        ) as resp,
    ):
        assert resp.status in (202, 400)
        return await resp.json()


@pytest.fixture(scope="module")
async def day(stack):
    """Send the day; return its local midnight once every accepted event is in the indicator tables."""
    midnight = (datetime.now(SHANGHAI) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    s = Script(stack, midnight)
    t = s.ticket
    queue = [
        # T1: wait 180 s, service 360 s.
        t(H1, "A001", "ticket_issued", "09:01:00"),
        t(H1, "A001", "ticket_called", "09:04:00"),
        t(H1, "A001", "service_started", "09:04:30"),
        t(H1, "A001", "service_completed", "09:10:30"),
        # T2: wait 600 s, service 480 s.
        t(H1, "A002", "ticket_issued", "09:02:00"),
        t(H1, "A002", "ticket_called", "09:12:00"),
        t(H1, "A002", "service_started", "09:12:30"),
        t(H1, "A002", "service_completed", "09:20:30"),
        # T3 crosses the 10:00 boundary: issued in the 09h window, called in the 10h one; wait 300 s, service 480 s.
        t(H1, "A003", "ticket_issued", "09:58:00"),
        t(H1, "A003", "ticket_called", "10:03:00"),
        t(H1, "A003", "service_started", "10:03:20"),
        t(H1, "A003", "service_completed", "10:11:20"),
        # T4 waits 2700 s, beyond the 1800 s target, and does not come to the window.
        t(H1, "A004", "ticket_issued", "09:30:00"),
        t(H1, "A004", "ticket_called", "10:15:00"),
        t(H1, "A004", "ticket_no_show", "10:16:00"),
        # T5 leaves before being called.
        t(H1, "A005", "ticket_issued", "09:40:00"),
        t(H1, "A005", "ticket_walkout", "09:50:00"),
    ]
    s.skip_seq(2)  # two events the node never delivered: sequence_gaps = 2
    queue += [
        # T6 is never called.
        t(H1, "A006", "ticket_issued", "10:20:00"),
        # U1 in the second hall: wait 120 s, service 480 s; its call comes in a later batch (late event).
        t(H2, "B001", "ticket_issued", "09:05:00"),
        t(H2, "B001", "service_started", "09:07:00"),
        t(H2, "B001", "service_completed", "09:15:00"),
    ]
    # A rush in H2: five tickets 10:30-10:34, never called, while its window stays open until 10:45 calling nobody.
    queue += [t(H2, f"C00{i}", "ticket_issued", f"10:3{i}:00") for i in range(5)]
    late_call = t(H2, "B001", "ticket_called", "09:07:00")
    e = s.evaluation
    evaluations = [
        e("09:11:00", "very_satisfied", hall=H1, device="pad-a"),
        e("09:21:00", "satisfied", hall=H1, device="pad-a"),
        e("10:12:00", "dissatisfied", hall=H1, device="pad-a"),
        e("09:16:00", "basic", hall=H2, device="pad-b", mode="default"),
        e("09:30:00", "very_dissatisfied", hall=None, device=None),  # online, no hall
    ]
    # Brushing: 21 top marks from one device between 10:00 and 10:21 (more than 20 in an hour).
    evaluations += [e(f"10:{i:02d}:00", "very_satisfied", hall=H2, device="pad-x") for i in range(21)]
    w = s.window
    windows = [
        # First window of H1: open 08:55, lunch pause 12:00-13:30, closed 17:30.
        w(H1, 0, "window_opened", "08:55:00"),
        w(H1, 0, "window_paused", "12:00:00"),
        w(H1, 0, "window_opened", "13:30:00"),
        w(H1, 0, "window_closed", "17:30:00"),
        # Second window of H1: staffed 09:00-10:30.
        w(H1, 1, "staff_login", "09:00:00"),
        w(H1, 1, "staff_logout", "10:30:00"),
        # First window of H2: 09:00-10:45.
        w(H2, 0, "window_opened", "09:00:00"),
        w(H2, 0, "window_closed", "10:45:00"),
    ]
    k = s.case
    cases = [
        # K1, all on the scripted day: rectified 11:00, before its deadline (that day's end at the earliest),
        # closed 12:00.
        k("K1", "case_created", 0, "09:00"),
        k("K1", "case_verified", 0, "09:30"),
        k("K1", "case_rectified", 0, "11:00"),
        k("K1", "case_closed", 0, "12:00"),
        # K2, verified five days before with 0 working days to rectify, never rectified: overdue.
        k("K2", "case_created", 5, "09:00"),
        k("K2", "case_verified", 5, "10:00"),
        # K3, verified five days before, rectified (late) and closed on the scripted day.
        k("K3", "case_created", 5, "09:00"),
        k("K3", "case_verified", 5, "09:30"),
        k("K3", "case_rectified", 0, "10:00"),
        k("K3", "case_closed", 0, "11:00"),
    ]
    bad_record = t(H1, "A999", "ticket_issued", "09:00:00") | {"hall_id": "H999999999"}  # unknown_entity
    c1, c2 = CAMERAS(stack)[:2]
    video = [
        s.probe(c1, "09:00:00", "ok"),
        s.probe(c1, "09:05:00", "ok"),
        s.probe(c1, "09:10:00", "black"),
        s.probe(c1, "09:15:00", "ok"),
        s.probe(c2, "09:00:00", "ok"),
        s.probe(c2, "09:05:00", "offline"),
        s.probe(c2, "09:10:00", "offline"),
        s.probe(c2, "09:15:00", "offline"),
        # The node beats every 60 s at 09:00-09:02, then is silent until 09:14.
        s.beat("09:00:00"),
        s.beat("09:01:00"),
        s.beat("09:02:00"),
        s.beat("09:14:00"),
    ]

    answer = await _post(stack, "queue", [*queue, bad_record])
    assert answer["accepted"] == len(queue) and [r["reason"] for r in answer["rejected"]] == ["unknown_entity"]
    assert (await _post(stack, "evaluation", evaluations))["accepted"] == 26
    assert (await _post(stack, "queue", [late_call]))["accepted"] == 1
    assert (await _post(stack, "window", windows))["accepted"] == 8
    assert (await _post(stack, "case", cases))["accepted"] == 10
    assert (await _post(stack, "video", video, source=NODE))["accepted"] == 12
    assert (await _post(stack, "queue", [queue[0]]))[
        "accepted"
    ] == 1  # a duplicate: the gateway cannot tell, the worker can

    async def all_in() -> bool:
        issued = await _ask(stack, "tickets_issued", f"city:{FS}", "1d", midnight)
        evals = await _ask(stack, "evaluations", f"city:{FS}", "1d", midnight)
        dups = await _ask(
            stack, "duplicates", f"source:{SOURCE}", "1d", midnight, end=datetime.now(UTC) + timedelta(days=1)
        )
        served = await _ask(stack, "tickets_served", f"city:{FS}", "1d", midnight)
        probes = await _ask(stack, "camera_availability", f"city:{FS}", "1d", midnight)
        windows_open = await _ask(stack, "windows_open", f"city:{FS}", "1h", midnight)
        rectified = await _ask(stack, "on_time_rectification_rate", f"city:{FS}", "1d", midnight)
        return (
            issued == {_day(midnight): 12}
            and evals == {_day(midnight): 26}
            and served == {_day(midnight): 4}
            and sum(dups.values()) == 1
            and probes == {_day(midnight): 0.5}
            and len(windows_open) == 16
            and len(rectified) == 1
        )

    await eventually(all_in, timeout_s=60)
    return midnight


def CAMERAS(stack) -> list[str]:  # noqa: N802 - reads like the constant it is
    return sorted(c.camera_id for c in stack.registry.cameras() if c.hall_id == H1)


def _day(midnight: datetime) -> str:
    return midnight.astimezone(UTC).isoformat()


def _hour(midnight: datetime, hour: int, minute: int = 0) -> str:
    return (midnight + timedelta(hours=hour, minutes=minute)).astimezone(UTC).isoformat()


async def _ask(
    stack, name: str, scope: str, window: str, midnight: datetime, end: datetime | None = None, group: str | None = None
) -> dict:
    q = IndicatorQuery.build(scope, window, midnight, end or midnight + timedelta(days=1), datetime.now(UTC))
    answer = await run(stack.ch, name, q)
    if group:
        return {(p["bucket"], p[group]): p["value"] for p in answer["points"]}
    return {p["bucket"]: p["value"] for p in answer["points"]}


def _nonzero(points: dict) -> dict:
    return {k: v for k, v in points.items() if v}


CITY = f"city:{FS}"


def foshan_item(registry) -> tuple[str, str]:
    """A service item and the Foshan department that handles it: a city department, so no other
    test's evaluations (in other cities, or of provincial departments) count for it."""
    for item in registry.items():
        local = [d for d in registry.departments() if d.parent_id == item.dept_id and d.city_code == FS]
        if local:
            return item.item_id, local[0].dept_id
    raise AssertionError("the generated registry has no Foshan counterpart of any provincial department")


async def test_queue_counts_by_hour_and_day(stack, day) -> None:
    """Issued by issued_at (T3 at 09:58 counts in 09h), served by completion time."""
    assert await _ask(stack, "tickets_issued", CITY, "1h", day) == {_hour(day, 9): 6, _hour(day, 10): 6}
    assert await _ask(stack, "tickets_served", CITY, "1h", day) == {_hour(day, 9): 3, _hour(day, 10): 1}
    assert await _ask(stack, "tickets_issued", f"hall:{H1}", "1h", day) == {_hour(day, 9): 5, _hour(day, 10): 1}
    assert await _ask(stack, "tickets_issued", "county:440604", "1d", day) == {_day(day): 12}


async def test_waits_by_time_of_first_call(stack, day) -> None:
    """09h waits are 120, 180, 600; 10h waits are 300 (T3, issued in 09h) and 2700; the day has all five."""
    assert await _ask(stack, "wait_p50_s", CITY, "1h", day) == {_hour(day, 9): 180, _hour(day, 10): 1500}
    assert await _ask(stack, "wait_p90_s", CITY, "1h", day) == {
        _hour(day, 9): pytest.approx(516),
        _hour(day, 10): pytest.approx(2460),
    }
    assert await _ask(stack, "wait_max_s", CITY, "1h", day) == {_hour(day, 9): 600, _hour(day, 10): 2700}
    # Sorted day: 120 180 300 600 2700 → p50 = 300; p90 at rank 3.6 = 600 + 0.6 * 2100 = 1860.
    assert await _ask(stack, "wait_p50_s", CITY, "1d", day) == {_day(day): 300}
    assert await _ask(stack, "wait_p90_s", CITY, "1d", day) == {_day(day): pytest.approx(1860)}
    # The 5-minute window of T3's call holds only T3.
    assert (await _ask(stack, "wait_p50_s", CITY, "5m", day))[_hour(day, 10, 0)] == 300


async def test_service_level_no_show_walkout_and_service_time(stack, day) -> None:
    """Only T4 misses the 30-minute target; T4 is the no-show, T5 the walkout; service times 360/480/480/480."""
    assert await _ask(stack, "service_level", CITY, "1h", day) == {_hour(day, 9): 1.0, _hour(day, 10): 0.5}
    assert await _ask(stack, "service_level", CITY, "1d", day) == {_day(day): pytest.approx(0.8)}
    assert await _ask(stack, "no_show_rate", CITY, "1h", day) == {_hour(day, 9): 0.0, _hour(day, 10): 0.5}
    assert await _ask(stack, "no_show_rate", CITY, "1d", day) == {_day(day): pytest.approx(0.2)}
    assert await _ask(stack, "walkout_rate", CITY, "1h", day) == {
        _hour(day, 9): pytest.approx(1 / 6),
        _hour(day, 10): 0.0,
    }
    assert await _ask(stack, "walkout_rate", CITY, "1d", day) == {_day(day): pytest.approx(1 / 12)}
    assert await _ask(stack, "service_p50_s", CITY, "1h", day) == {_hour(day, 9): 480, _hour(day, 10): 480}
    assert await _ask(stack, "service_p90_s", CITY, "1d", day) == {_day(day): 480}
    assert await _ask(stack, "service_p50_s", f"hall:{H1}", "1h", day) == {_hour(day, 9): 420, _hour(day, 10): 480}


async def test_waiting_at_the_end_of_each_window(stack, day) -> None:
    """At 10:00 T3 and T4 wait (T5 walked out at 09:50); from 11:00 to midnight T6 and H2's five rush tickets."""
    waiting = await _ask(stack, "queue_waiting", CITY, "1h", day)
    assert _nonzero(waiting) == {_hour(day, 9): 2, **{_hour(day, h): 6 for h in range(10, 24)}}
    assert await _ask(stack, "queue_waiting", CITY, "1d", day) == {_day(day): 6}
    assert _nonzero(await _ask(stack, "queue_waiting", CITY, "5m", day))[_hour(day, 9, 55)] == 2


async def test_evaluation_rates(stack, day) -> None:
    """09h: 4 evaluations, 3 satisfied, 1 bad, 1 default; 10h: 22 with 1 bad; the day: 26."""
    assert await _ask(stack, "evaluations", CITY, "1h", day) == {_hour(day, 9): 4, _hour(day, 10): 22}
    assert await _ask(stack, "satisfaction_rate", CITY, "1h", day) == {
        _hour(day, 9): 0.75,
        _hour(day, 10): pytest.approx(21 / 22),
    }
    assert await _ask(stack, "bad_review_rate", CITY, "1d", day) == {_day(day): pytest.approx(2 / 26)}
    assert await _ask(stack, "active_evaluation_rate", CITY, "1h", day) == {_hour(day, 9): 0.75, _hour(day, 10): 1.0}
    # Coverage: evaluations / tickets served, same window: 4/3 and 22/1; the day 26/4.
    assert await _ask(stack, "evaluation_coverage", CITY, "1h", day) == {
        _hour(day, 9): pytest.approx(4 / 3),
        _hour(day, 10): 22,
    }
    assert await _ask(stack, "evaluation_coverage", CITY, "1d", day) == {_day(day): 6.5}
    # At hall scope the online evaluation does not count: H1 has 2 in 09h, 1 in 10h.
    assert await _ask(stack, "evaluations", f"hall:{H1}", "1h", day) == {_hour(day, 9): 2, _hour(day, 10): 1}
    # The department of every scripted evaluation is the same one.
    _, dept = foshan_item(stack.registry)
    assert await _ask(stack, "evaluations", f"dept:{dept}", "1d", day) == {_day(day): 26}


async def test_suspicious_evaluations_from_one_device(stack, day) -> None:
    """pad-x gave 21 in one hour: 21 of the 22 evaluations of 10h, 21 of 26 in the day; 09h has none."""
    assert await _ask(stack, "suspicious_evaluation_share", CITY, "1h", day) == {
        _hour(day, 9): 0.0,
        _hour(day, 10): pytest.approx(21 / 22),
    }
    assert await _ask(stack, "suspicious_evaluation_share", CITY, "1d", day) == {_day(day): pytest.approx(21 / 26)}


async def test_data_quality_of_the_source(stack, day) -> None:
    """71 events stored (27 queue, 26 evaluations, 8 window, 10 case), all late (a day old or more); 2 seq numbers
    missing; 1 duplicate and 1 unknown hall of 73 records."""
    source = f"source:{SOURCE}"
    end = datetime.now(UTC) + timedelta(days=1)
    assert sum((await _ask(stack, "late_events", source, "1d", day, end)).values()) == 71
    assert sum((await _ask(stack, "sequence_gaps", source, "1d", day, end)).values()) == 2
    assert sum((await _ask(stack, "duplicates", source, "1d", day, end)).values()) == 1
    shares = await _ask(stack, "rejected_share", source, "1d", day, end, group="reason")
    assert sorted((reason, value) for (_, reason), value in shares.items()) == [
        ("duplicate", pytest.approx(1 / 73)),
        ("unknown_entity", pytest.approx(1 / 73)),
    ]
    # 61 events are between about 10 h and 2 days old; the 10 case steps (14%) up to 7 days: the median lies
    # among the first, the 95th percentile among the case steps.
    (p50,) = (await _ask(stack, "ingest_lag_p50_s", source, "1d", day, end)).values()
    (p95,) = (await _ask(stack, "ingest_lag_p95_s", source, "1d", day, end)).values()
    assert 9 * 3600 < p50 < 2 * 86400 and 4 * 86400 < p95 < 7 * 86400


async def test_windows_open_at_the_end_of_each_hour(stack, day) -> None:
    """H1's first window is open 08:55-12:00 and 13:30-17:30, its second 09:00-10:30, H2's first 09:00-10:45."""
    hourly = await _ask(stack, "windows_open", CITY, "1h", day)
    expected = {8: 1, 9: 3, 10: 1, 11: 1, 12: 0, 13: 1, 14: 1, 15: 1, 16: 1, **{h: 0 for h in range(17, 24)}}
    assert hourly == {_hour(day, h): v for h, v in expected.items()}
    assert await _ask(stack, "windows_open", CITY, "1d", day) == {_day(day): 0}
    configured = sum(1 for w in stack.registry.windows() if stack.registry.hall(w.hall_id).city_code == FS)
    ratio = await _ask(stack, "open_window_ratio", CITY, "1h", day)
    assert ratio[_hour(day, 9)] == pytest.approx(3 / configured)


async def test_camera_availability_snapshot_and_time_weighted(stack, day) -> None:
    """c1: ok ok black ok; c2: ok offline offline offline, at 09:00/05/10/15.

    H1 has more cameras than the two probed."""
    configured = len(CAMERAS(stack))
    hall = f"hall:{H1}"
    online = await _ask(stack, "camera_online_rate", hall, "5m", day)
    assert online == {_hour(day, 9, m): pytest.approx(n / configured) for m, n in ((0, 2), (5, 1), (10, 0), (15, 1))}
    assert await _ask(stack, "camera_online_rate", hall, "1h", day) == {_hour(day, 9): pytest.approx(1 / configured)}
    assert await _ask(stack, "camera_availability", hall, "1h", day) == {_hour(day, 9): 0.5}
    assert (await _ask(stack, "camera_availability", hall, "5m", day))[_hour(day, 9, 10)] == 0.0
    faults = await _ask(stack, "camera_faults", hall, "1h", day, group="status")
    assert faults == {(_hour(day, 9), "black"): 1, (_hour(day, 9), "offline"): 3}


async def test_a_node_is_offline_after_three_missed_beats(stack, day) -> None:
    """Last beat 09:02: online at 09:05 (3 intervals), offline at 09:10; the 09:14 beat brings it back for 09:15."""
    nodes = await _ask(stack, "nodes_online", CITY, "5m", day)
    assert {m: nodes[_hour(day, 9, m)] for m in (0, 5, 10, 15)} == {0: 1.0, 5: 0.0, 10: 1.0, 15: 0.0}


async def test_cases_open_overdue_and_rectified_on_time(stack, day) -> None:
    """K2 and K3 are open from five days before; K1 and K3 close on the day, K2 stays open and overdue;
    of the two rectified on the day, K1 was on time and K3 late."""
    from streams.workdays import DEFAULT as WORKING_DAYS

    early = [(day - timedelta(days=n)).date() for n in range(2, 6)]
    if not any(WORKING_DAYS.is_workday(d) for d in early):  # only inside a long holiday such as 春节
        pytest.skip("no working day between the cases' verification and the scripted day")
    start, now = day - timedelta(days=5), datetime.now(UTC)
    today = (day + timedelta(days=1)).astimezone(UTC).isoformat()
    opened = await _ask(stack, "open_cases", CITY, "1d", start, end=now)
    assert opened == {**{_day(day - timedelta(days=n)): 2 for n in range(1, 6)}, _day(day): 1, today: 1}
    overdue = await _ask(stack, "overdue_cases", CITY, "1d", start, end=now)
    assert (overdue[_day(day)], overdue[today]) == (1, 1)
    assert await _ask(stack, "on_time_rectification_rate", CITY, "1d", start, end=now) == {_day(day): 0.5}


async def test_window_load_and_idle_windows_while_a_queue_builds(stack, day) -> None:
    """Completed tickets per calling window: 3 over w1 and u1 in 09h, 1 over w1 in 10h; H2's open window is idle
    at 10:35, 10:40 and 10:45 while its five rush tickets wait, and no longer once it closes at 10:45."""
    assert await _ask(stack, "window_load", CITY, "1h", day) == {_hour(day, 9): 1.5, _hour(day, 10): 1.0}
    assert await _ask(stack, "window_load", CITY, "1d", day) == {_day(day): 2.0}
    idle = await _ask(stack, "idle_windows", CITY, "5m", day)
    assert idle == {_hour(day, 10, 30): 1, _hour(day, 10, 35): 1, _hour(day, 10, 40): 1}
    assert await _ask(stack, "idle_windows", CITY, "1h", day) == {}


async def test_national_pass_rate_counts_each_records_latest_verdict(stack, day) -> None:
    """Three records of 佛山's day checked for the national upload: r1 passed, then failed when checked again; r2
    passed; r3 failed, in another department. Latest verdicts: r1 fails, r2 passes, r3 fails → 1/3 for the city,
    1/2 for the first department, 0 for the other."""
    from connectors.clickhouse.national_checks import store_checks
    from streams.national.checks import Checked, Reason

    dept, other = f"D{FS}-01", f"D{FS}-02"
    at = (day + timedelta(hours=10)).astimezone(UTC)
    run_id = f"{datetime.now(UTC).timestamp():.0f}"

    def record(n: int, dept_id: str, *reasons: str) -> Checked:
        raw = {"record_id": f"np-{run_id}-{n}", "city_code": FS, "dept_id": dept_id, "occurred_at": at}
        return Checked("evaluation", raw, None, [Reason(code, code, code) for code in reasons])

    first = datetime.now(UTC) - timedelta(minutes=5)
    await store_checks(stack.ch, [record(1, dept), record(2, dept), record(3, other, "late")], first)
    await store_checks(stack.ch, [record(1, dept, "duplicate")], first + timedelta(minutes=1))
    assert await _ask(stack, "national_pass_rate", CITY, "1d", day) == {_day(day): pytest.approx(1 / 3)}
    assert await _ask(stack, "national_pass_rate", f"dept:{dept}", "1d", day) == {_day(day): pytest.approx(1 / 2)}
    assert await _ask(stack, "national_pass_rate", f"dept:{other}", "1d", day) == {_day(day): 0}


def test_every_indicator_has_a_truth_check() -> None:
    """No built-in indicator is left without a hand-computed check in this module (the ones ops define in YAML are
    checked against their operands in test_defined_indicators)."""
    from pathlib import Path

    from streams.indicators.installed import BUILT_INS

    text = Path(__file__).read_text(encoding="utf-8")
    assert [name for name in BUILT_INS if f'"{name}"' not in text] == []


async def test_grouped_queries_agree_with_one_query_per_entity(stack, day) -> None:
    """For every indicator and every entity kind it groups by, the grouped series of 佛山's day equals, entity by
    entity, the series of a query scoped to that entity (rule evaluation relies on the grouped form)."""
    from streams.indicators.installed import BUILT_INS

    end = datetime.now(UTC) + timedelta(days=1)
    start = day - timedelta(days=5)
    compared = 0
    for name, indicator in BUILT_INS.items():
        for kind in indicator.group_kinds:
            if kind not in indicator.scopes:
                continue  # node and camera groups have no scope to compare with
            window = "1d" if "1d" in indicator.windows else indicator.windows[-1]
            q = IndicatorQuery.build(
                f"city:{FS}" if "city" in indicator.scopes else "province",
                window,
                start,
                end,
                datetime.now(UTC),
                group=kind,
            )
            grouped = (await run(stack.ch, name, q))["points"]
            assert grouped or name in ("idle_windows",), (name, kind)  # the day has data for all but idle at 1d
            per_entity: dict[str, dict] = {}
            for point in grouped:
                entity = point[kind]
                if entity not in per_entity:
                    scoped = await _ask(
                        stack, name, f"{kind}:{entity}", window, start, end=end, group=indicator.grouped_by
                    )
                    per_entity[entity] = scoped
                key = (point["bucket"], point[indicator.grouped_by]) if indicator.grouped_by else point["bucket"]
                assert per_entity[entity].get(key) == pytest.approx(point["value"]), (name, kind, entity, key)
                compared += 1
    assert compared > 150  # points across all indicators and kinds


async def test_the_deadline_rule_finds_the_overdue_case(stack, day) -> None:
    """Of the scripted cases only K2 (verified five days before, never rectified) is overdue for rectification."""
    from streams.rules.deadline_rules import DeadlineCheck
    from streams.workdays import DEFAULT as WORKING_DAYS

    if not any(WORKING_DAYS.is_workday((day - timedelta(days=n)).date()) for n in range(2, 6)):
        pytest.skip("no working day between the cases' verification and the scripted day")
    found = await DeadlineCheck("overdue_rectification", "case_rectified", city=FS).evaluate(
        stack.ch, datetime.now(UTC)
    )
    assert [o.group["case"].split("-")[0] for o in found] == ["K2"]
    assert found[0].breached and found[0].evidence["last_step"] == "case_verified"


async def test_backtest_replays_rules_over_the_day(stack, day, tmp_path) -> None:
    """Over the scripted day: a 1h wait rule fires for H1 when T4's 2700 s wait is called (10:15) and resolves an hour
    after the last call; a device rule (10 in 10 min) fires at pad-x's 10th evaluation (10:09), resolves at 10:21."""
    from streams.rules.backtest import backtest
    from streams.rules.loader import load_rules

    (tmp_path / "bt.yaml").write_text(
        f"""
rules:
  - id: bt_long_wait
    type: threshold
    title: 等候过长
    severity: warning
    domain: queue
    scope: city:{FS}
    group_by: [hall]
    indicator: wait_p90_s
    window: 1h
    every: 1m
    op: ">"
    threshold: 1000
  - id: bt_device
    type: frequency
    title: 刷评
    severity: warning
    domain: evaluation
    stream: evaluation
    key: device_id
    count: 10
    within: 10m
""",
        encoding="utf-8",
    )
    report = await backtest(
        load_rules(tmp_path), stack.ch, stack.registry, day + timedelta(hours=9), day + timedelta(hours=12)
    )
    local = {
        ep.rule_id: (
            ep.group,
            ep.fired_at.astimezone(SHANGHAI).strftime("%H:%M"),
            ep.resolved_at and ep.resolved_at.astimezone(SHANGHAI).strftime("%H:%M"),
        )
        for ep in report.episodes
    }
    assert local == {
        "bt_long_wait": ({"hall": H1}, "10:16", "11:16"),
        "bt_device": ({"city": str(FS), "device": "pad-x"}, "10:09", "10:21"),
    }
    assert report.flaps() == {}
