"""The city-node simulator: valid, registry-consistent, clock-driven traffic,
its anomaly scenarios, and the client that posts it through the gateway."""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from aiohttp import web

from connectors.simulator_client import run_simulator
from streams.definitions import STREAMS
from streams.registry import Registry
from streams.registry.generate import generate
from streams.simulator import SCENARIOS, Emitted, Simulation
from streams.simulator.hours import offset_to, parse_opening
from streams.validation import Validator
from streams.workdays import SHANGHAI

#: The smallest registry `generate` builds: one hall per city and per county.
SMALL_HALLS = 143
RATE_EPS = 8.0
#: Monday 2026-11-23 in Guangdong (UTC+8).
MONDAY = datetime(2026, 11, 23, tzinfo=SHANGHAI)
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$")


def at(day: datetime, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return (day + timedelta(hours=hours, minutes=minutes)).astimezone(UTC)


def run(sim: Simulation, start: datetime, seconds: float, dt_s: float = 5.0) -> list[Emitted]:
    """Step a simulation with a manual clock from `start` for `seconds`."""
    out: list[Emitted] = []
    for i in range(1, int(seconds / dt_s) + 1):
        out += sim.step(start + timedelta(seconds=i * dt_s), dt_s)
    return out


def local(event: dict, offset: timedelta = timedelta(0)) -> datetime:
    return (datetime.fromisoformat(event["occurred_at"]) + offset).astimezone(SHANGHAI)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return generate(halls=SMALL_HALLS)


@pytest.fixture(scope="module")
def morning(registry: Registry) -> list[Emitted]:
    """08:20–10:40 on a Monday: the 08:30 and 09:00 openings and the morning peak."""
    return run(Simulation(registry, RATE_EPS, seed=7), at(MONDAY, "08:20"), 140 * 60)


@pytest.fixture(scope="module")
def evening(registry: Registry) -> list[Emitted]:
    """16:50–18:05 on a Monday: the 17:00, 17:30 and 18:00 closings."""
    return run(Simulation(registry, RATE_EPS, seed=8), at(MONDAY, "16:50"), 75 * 60)


def test_every_event_validates_against_its_stream_model(morning: list[Emitted], evening: list[Emitted]) -> None:
    """Every emitted event parses with its stream's pydantic model."""
    assert {e.stream for e in morning} == set(STREAMS)
    for stream, _, event in morning + evening:
        STREAMS[stream].adapter.validate_python(event)


def test_the_gateway_validator_accepts_everything(
    registry: Registry, morning: list[Emitted], evening: list[Emitted]
) -> None:
    """The gateway's own checks (schema, clock, registry, scope) reject nothing around openings and closings."""
    validator = Validator(registry)
    by_batch: dict[tuple[str, str, str], list[dict]] = {}
    openings = [e for e in morning if datetime.fromisoformat(e.event["sent_at"]) < at(MONDAY, "09:30")]
    for stream, source, event in openings + evening:
        by_batch.setdefault((stream, source, event["sent_at"]), []).append(event)
    for (stream, source, sent_at), events in by_batch.items():
        _, rejected = validator.validate(STREAMS[stream], source, events, datetime.fromisoformat(sent_at))
        assert not rejected, rejected[0]


def test_every_id_exists_and_belongs_to_the_source_city(
    registry: Registry, morning: list[Emitted], evening: list[Emitted]
) -> None:
    """Halls, windows, staff, items, departments, cameras and nodes exist and are in the sender's city."""

    def dept_ok(dept_id: str | None, city: int) -> bool:
        dept = registry.department(dept_id) if dept_id else None
        return dept_id is None or (dept is not None and dept.city_code in (None, city))

    for stream, source, e in morning + evening:
        city = registry.city_of_source(source)
        assert city is not None and e["source"] == source
        if stream == "video":
            assert source == e["node_id"] == f"VN{city}" and registry.node(e["node_id"]).city_code == city
            if e["type"] == "camera_probe":
                assert registry.camera(e["camera_id"]).node_id == e["node_id"]
            continue
        assert source == f"node-{city}"
        assert dept_ok(e.get("dept_id"), city) and dept_ok(e.get("to_dept_id"), city)
        if e.get("item_id") is not None:
            assert registry.item(e["item_id"]) is not None
        if e.get("hall_id") is not None:
            hall = registry.hall(e["hall_id"])
            assert hall is not None and hall.city_code == city
            for key in ("window_id", "to_window_id"):
                if e.get(key) is not None:
                    assert registry.window(e[key]).hall_id == hall.hall_id
            if e.get("staff_id") is not None:
                assert e["staff_id"].startswith(f"ST{hall.hall_id[1:]}-")


def test_envelopes_are_unique_ordered_and_stamped_in_utc(morning: list[Emitted]) -> None:
    """event_ids are unique, seq rises by one per source, and occurred_at never follows sent_at."""
    assert len({e.event["event_id"] for e in morning}) == len(morning)
    last: dict[str, int] = {}
    late = 0
    for _, source, e in morning:
        assert e["seq"] == last.get(source, 0) + 1
        last[source] = e["seq"]
        assert ISO_UTC.match(e["occurred_at"]) and ISO_UTC.match(e["sent_at"])
        delay = (datetime.fromisoformat(e["sent_at"]) - datetime.fromisoformat(e["occurred_at"])).total_seconds()
        assert 0 <= delay <= 300
        late += delay > 5.0
    assert 0.005 < late / len(morning) < 0.05


def test_queue_and_window_events_only_inside_opening_hours(
    registry: Registry, morning: list[Emitted], evening: list[Emitted]
) -> None:
    """Queue and window events fall inside the hall's opening hours on a working day, and every hall opens."""
    halls_seen = set()
    for stream, _, e in morning + evening:
        if stream not in ("queue", "window"):
            continue
        when = local(e)
        second = when.hour * 3600 + when.minute * 60 + when.second + when.microsecond / 1e6
        spans = parse_opening(registry.hall(e["hall_id"]).opening)
        assert when.weekday() < 5 and any(start <= second <= end for start, end in spans), (e, when)
        halls_seen.add(e["hall_id"])
    assert len(halls_seen) == SMALL_HALLS
    closing = Counter(e.event["type"] for e in evening if e.stream == "window")
    assert closing["window_closed"] > 0 and closing["staff_logout"] > 0


def test_halls_are_quiet_at_night_and_weekends_but_heartbeats_continue(registry: Registry) -> None:
    """At 20:00 on a weekday and 10:00 on a Saturday no hall event is sent, yet every node beats."""
    for start in (at(MONDAY, "20:00"), at(MONDAY + timedelta(days=5), "10:00")):
        events = run(Simulation(registry, RATE_EPS, seed=1), start, 15 * 60)
        assert not [e for e in events if e.stream in ("queue", "window")]
        beats = Counter(e.source for e in events if e.event["type"] == "node_heartbeat")
        assert len(beats) == 21 and min(beats.values()) >= 14


def test_clock_offset_moves_the_hall_clock_but_not_the_stamps(registry: Registry) -> None:
    """With a 12 h offset, 22:00 behaves like 10:00 while events keep the real time."""
    start = at(MONDAY, "22:00")
    offset = timedelta(hours=12)
    events = run(Simulation(registry, RATE_EPS, seed=2, clock_offset=offset), start, 10 * 60)
    queue = [e.event for e in events if e.stream == "queue"]
    assert len(queue) > 100
    for event in queue:
        assert start <= datetime.fromisoformat(event["occurred_at"]) <= start + timedelta(minutes=10)
        assert 10 <= local(event, offset).hour < 11


def test_offset_to_puts_hall_clocks_on_a_working_morning() -> None:
    """offset_to turns any moment, a Sunday night included, into 10:00 on a weekday for the halls."""
    for now in (at(MONDAY, "22:13"), at(MONDAY + timedelta(days=6), "03:00"), at(MONDAY, "10:00")):
        shown = (now + offset_to(now, "10:00")).astimezone(SHANGHAI)
        assert (shown.weekday() < 5, shown.hour, shown.minute) == (True, 10, 0)


def test_rate_is_within_half_of_rate_eps_over_an_opening_hour(morning: list[Emitted]) -> None:
    """Between 09:30 and 10:30 the province sends rate_eps events per second, give or take 50%."""
    hour_start, hour_end = at(MONDAY, "09:30"), at(MONDAY, "10:30")
    sent = [e for e in morning if hour_start < datetime.fromisoformat(e.event["sent_at"]) <= hour_end]
    rate = len(sent) / 3600
    assert 0.5 * RATE_EPS <= rate <= 1.5 * RATE_EPS, rate
    assert {"queue", "evaluation", "case", "video"} <= {e.stream for e in sent}


def test_evaluation_mix_and_hashing(morning: list[Emitted]) -> None:
    """Most evaluations are 非常满意, ~60% come from hall pads, defaults exist, and evaluators are salted hashes."""
    evaluations = [e.event for e in morning if e.stream == "evaluation"]
    active = [e for e in evaluations if e["mode"] == "active"]
    levels = Counter(e["level"] for e in active)
    assert 0.83 < levels["very_satisfied"] / len(active) < 0.93
    assert 0.5 < sum(e["channel"] == "hall_pad" for e in evaluations) / len(evaluations) < 0.75
    assert any(e["mode"] == "default" and e["level"] == "satisfied" for e in evaluations)
    assert all(re.fullmatch(r"[0-9a-f]{64}", e["evaluator_hash"]) for e in evaluations)
    bad = [e for e in active if e["level"] in ("dissatisfied", "very_dissatisfied")]
    assert bad and all(e["reason_tags"] for e in bad)
    cases = Counter(e.event["type"] for e in morning if e.stream == "case")
    assert cases["case_created"] > 0 and cases["case_assigned"] > 0


def test_long_queue_grows_that_halls_line_well_above_the_others(registry: Registry) -> None:
    """Ten times the arrivals and half the windows paused make one hall's line far longer than any other."""
    sim = Simulation(registry, RATE_EPS, seed=3)
    start = at(MONDAY, "09:45")
    run(sim, start, 600)
    injected = sim.inject("long_queue", start + timedelta(seconds=600))
    events = run(sim, start + timedelta(seconds=600), 1800)
    others = max(sim.waiting(h) for h in sim.halls.halls if h != injected.target)
    assert sim.waiting(injected.target) > max(50, 5 * others)
    paused = {
        e.event["window_id"]
        for e in events
        if e.event["type"] == "window_paused" and e.event["hall_id"] == injected.target
    }
    assert paused == set(injected.details["paused_windows"])


def test_node_offline_stops_its_heartbeats_and_its_cameras_probe_offline(registry: Registry) -> None:
    """During node_offline the node sends no heartbeat and its probes say offline; other nodes carry on."""
    sim = Simulation(registry, RATE_EPS, seed=4)
    start = at(MONDAY, "10:00")
    run(sim, start, 300)
    injected = sim.inject("node_offline", start + timedelta(seconds=300), target="VN440300", duration_s=600)
    events = run(sim, start + timedelta(seconds=300), 900)
    during = [e for e in events if injected.start <= datetime.fromisoformat(e.event["occurred_at"]) < injected.until]
    assert not [e for e in during if e.event["type"] == "node_heartbeat" and e.source == "VN440300"]
    assert {e.event["status"] for e in during if e.event["type"] == "camera_probe" and e.source == "VN440300"} == {
        "offline"
    }
    assert len({e.source for e in during if e.event["type"] == "node_heartbeat"}) == 20
    after = [e for e in events if datetime.fromisoformat(e.event["occurred_at"]) >= injected.until]
    assert [e for e in after if e.event["type"] == "node_heartbeat" and e.source == "VN440300"]


def test_evaluation_brushing_sends_many_top_marks_from_one_device(registry: Registry) -> None:
    """evaluation_brushing makes one device_id submit dozens of 非常满意 within minutes."""
    sim = Simulation(registry, RATE_EPS, seed=5)
    start = at(MONDAY, "10:00")
    injected = sim.inject("evaluation_brushing", start, duration_s=300)
    events = run(sim, start, 600)
    per_device = Counter(e.event.get("device_id") for e in events if e.stream == "evaluation")
    device = injected.details["device_id"]
    assert per_device[device] >= 40
    assert max(n for d, n in per_device.items() if d not in (device, None)) < 10
    assert {e.event["level"] for e in events if e.event.get("device_id") == device} == {"very_satisfied"}


def test_bad_review_burst_hits_one_staff_member(registry: Registry) -> None:
    """bad_review_burst aimed at a staff member gives them a dozen bad reviews, each opening a case."""
    sim = Simulation(registry, RATE_EPS, seed=6)
    start = at(MONDAY, "10:00")
    run(sim, start, 300)
    staff_id = sim.halls.halls["H440303001"].windows[0].staff_id or sim.halls.halls["H440303001"].staff_pool[0]
    sim.inject("bad_review_burst", start + timedelta(seconds=300), target=staff_id, count=12)
    events = run(sim, start + timedelta(seconds=300), 1200)
    bad = [e.event for e in events if e.stream == "evaluation" and e.event.get("staff_id") == staff_id]
    assert len([e for e in bad if e["level"] in ("dissatisfied", "very_dissatisfied")]) >= 12
    created = {e.event["case_no"] for e in events if e.event["type"] == "case_created"}
    assert {e["case_no"] for e in bad} <= created


def test_same_seed_same_events_other_seed_other_events(registry: Registry) -> None:
    """Two simulations with one seed and one clock emit identical events; another seed differs."""
    start = at(MONDAY, "10:00")
    first = run(Simulation(registry, RATE_EPS, seed=11), start, 300)
    again = run(Simulation(registry, RATE_EPS, seed=11), start, 300)
    other = run(Simulation(registry, RATE_EPS, seed=12), start, 300)
    assert first == again
    assert [e.event for e in first if e.stream == "queue"] != [e.event for e in other if e.stream == "queue"]


def test_scenarios_are_described_and_unknown_names_rejected(registry: Registry) -> None:
    """Each scenario has a Chinese and English line; an unknown name or hall is an error."""
    assert set(SCENARIOS) == {"long_queue", "node_offline", "bad_review_burst", "evaluation_brushing"}
    for text in SCENARIOS.values():
        assert re.search(r"[\u4e00-\u9fff]", text) and re.search(r"[a-z]{3}", text)
    sim = Simulation(registry, RATE_EPS, seed=1)
    with pytest.raises(ValueError, match="unknown scenario"):
        sim.inject("meteor", at(MONDAY, "10:00"))
    with pytest.raises(ValueError, match="unknown hall"):
        sim.inject("long_queue", at(MONDAY, "10:00"), target="H999999999")


async def test_client_batches_per_source_and_stream_and_retries_with_the_same_batch_id(registry: Registry) -> None:
    """The client posts split batches with each source's token and retries a 503 with the same body.

    It never logs tokens.
    """
    bodies: dict[str, list[bytes]] = {}
    posted: list[tuple[str, dict, str]] = []

    async def ingest(request: web.Request) -> web.Response:
        raw = await request.read()
        body = json.loads(raw)
        bodies.setdefault(body["batch_id"], []).append(raw)
        posted.append((request.match_info["stream"], body, request.headers["Authorization"]))
        if len(bodies[body["batch_id"]]) == 1 and len(bodies) % 3 == 0:
            return web.json_response({"error": "broker_unavailable", "detail": "retry later"}, status=503)
        return web.json_response(
            {"batch_id": body["batch_id"], "accepted": len(body["events"]), "rejected": []}, status=202
        )

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_post("/api/v1/ingest/{stream}", ingest)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    senders = [*(s.source_id for s in registry.sources()), *(n.node_id for n in registry.nodes())]
    tokens = {source: f"secret-token-{source}" for source in senders}
    ticks = itertools.count()

    def clock() -> datetime:
        # A manual clock racing at 30 simulated seconds per tick.
        return at(MONDAY, "09:58") + timedelta(seconds=30 * next(ticks))

    try:
        with structlog.testing.capture_logs() as logs:
            stats = await run_simulator(
                f"http://127.0.0.1:{port}",
                tokens,
                registry,
                rate_eps=RATE_EPS,
                seed=1,
                scenarios=[(0.0, "evaluation_brushing")],
                tick_s=0.02,
                duration_s=0.5,
                max_batch_events=100,
                backoff_s=0.01,
                clock=clock,
            )
    finally:
        await runner.cleanup()
    assert stats.retries >= 1 and stats.errors == 0 and stats.rejected == 0
    assert stats.sent == stats.accepted > 0  # how many depends on the machine's speed: duration_s is wall time
    assert [i.name for i in stats.injected] == ["evaluation_brushing"]
    for stream, body, auth in posted:
        assert stream in STREAMS and 0 < len(body["events"]) <= 100
        assert auth == f"Bearer {tokens[body['source']]}"
        assert {e["source"] for e in body["events"]} == {body["source"]}
    assert all(len(set(attempts)) == 1 for attempts in bodies.values())
    assert any(len(attempts) > 1 for attempts in bodies.values())
    assert any(entry["event"] == "simulator_started" for entry in logs)
    assert not any("secret-token" in repr(entry) for entry in logs)
