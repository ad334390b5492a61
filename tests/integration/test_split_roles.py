"""The roles apart, as compose runs them: a gateway process, a worker+center process and a rule feed, one broker."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis
from prometheus_client import CollectorRegistry

from agents import rule_feed as rule_feed_agent
from agents.app import build_app
from agents.settings import Settings
from connectors.alert_outputs import ACTIVE_KEY
from connectors.embedded import ChildProcess, free_port, tansu_broker, valkey_server
from streams.definitions import STREAMS
from streams.metrics import Metrics
from streams.registry.generate import generate
from streams.rule_feed import RuleFeed
from streams.validation import TimeLimits, Validator
from streams.vetted import BatchSeal, encode_vetted
from tests.integration.center import bad_reviews, burst_fingerprint
from tests.integration.helpers import eventually
from tests.integration.processes import Up, get

pytestmark = pytest.mark.integration
CITY = 440100  # a broker, Redis and chDB of this test's own: no other test's cities share them


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One broker and one Redis that every process of the test connects to, as in compose."""
    root = tmp_path_factory.mktemp("split")
    children: list[ChildProcess] = [
        tansu_broker(free_port(), root / "logs"),
        valkey_server(free_port(), root / "redis"),
    ]
    for child in children:
        child.start()
    try:
        yield {
            "root": root,
            "kafka": f"127.0.0.1:{children[0].port}",
            "redis": f"redis://127.0.0.1:{children[1].port}/0",
        }
    finally:
        for child in reversed(children):
            child.stop()


def _post(base: str, stream: str, source: str, token: str, events: list[dict[str, Any]]) -> int:
    body = json.dumps({"source": source, "events": events}).encode()
    req = urllib.request.Request(
        f"{base}/api/v1/ingest/{stream}",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


async def test_gateway_worker_and_center_in_separate_processes(shared: dict[str, Any]) -> None:
    """Events posted to a gateway process are stored by a worker+center process and fire an alert into Redis there.

    The processes share a seal key, so the worker takes the gateway's validated batch as it is (counted in /metrics).
    """
    root: Path = shared["root"]
    env = {
        "GOVPULSE_KAFKA_DSN": f"kafka://{shared['kafka']}",
        "GOVPULSE_REDIS_DSN": shared["redis"],
        "GOVPULSE_BATCH_SEAL_KEY": "split-roles-test-key-" + "0" * 20,
    }
    plain = root / "tokens.json"
    await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "agents.cli.main",
            "tokens",
            "issue",
            f"node-{CITY}",
            "--out",
            str(plain),
            "--data-dir",
            str(root / "gw"),
        ],
        check=True,
        capture_output=True,
    )
    token = json.loads(plain.read_text())[f"node-{CITY}"]

    back = await asyncio.to_thread(Up, root / "back", env={**env, "GOVPULSE_ROLES": "worker,center"})
    gate = await asyncio.to_thread(Up, root / "gw", env={**env, "GOVPULSE_ROLES": "gateway"})
    try:
        # Each process serves only its own role's routes; /metrics and /healthz everywhere.
        assert get(f"{gate.base}/api/v1/stats")[0] == 404
        assert _post(back.base, "evaluation", f"node-{CITY}", token, []) == 404
        assert get(f"{gate.base}/metrics")[0] == 200

        staff = "split-staff"
        events = bad_reviews(SimpleNamespace(registry=generate(halls=300)), CITY, staff)  # type: ignore[arg-type]
        assert _post(gate.base, "evaluation", f"node-{CITY}", token, events) == 202

        async def stored() -> int:
            return (await asyncio.to_thread(back.stats)).get("evaluations", 0)

        assert await eventually(stored, timeout_s=30) == len(events)
        metrics = get(f"{back.base}/metrics")[1].decode()
        assert 'govpulse_batches_sealed_total{topic="raw.evaluation"} 1.0' in metrics
        client = redis.Redis.from_url(shared["redis"])

        async def firing() -> bool:
            raw = await asyncio.to_thread(client.hget, ACTIVE_KEY, burst_fingerprint(CITY, staff))
            return raw is not None and json.loads(raw)["state"] == "firing"

        await eventually(firing, timeout_s=30)
        client.close()
    finally:
        codes = [gate.terminate(), back.terminate()]
    assert codes == [0, 0]


async def test_the_center_rule_feed_reads_every_valid_event_in_its_own_group(shared: dict[str, Any]) -> None:
    """The rule feed, in a consumer group of its own, hands the rules each valid record of the raw topics.

    Junk is skipped."""
    from aiokafka import AIOKafkaProducer

    from streams.models.wire import encode_batch_parts

    registry = generate(halls=300)
    settings = Settings(
        roles="none", kafka_dsn=f"kafka://{shared['kafka']}", data_dir=shared["root"] / "feed", topic_partitions=4
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    seen: list[str] = []

    async def collect(stream: str, events: list[tuple[Any, Any, int]]) -> None:
        seen.extend(ev.event_id for ev, _, _ in events)

    validator = Validator(registry, TimeLimits(max_age=timedelta(days=7), max_future=timedelta(minutes=5)))
    app = build_app(settings, shared["kafka"], group="split-test-rules")
    seal, metrics = BatchSeal.random(), Metrics(CollectorRegistry())
    rule_feed_agent.attach(app, RuleFeed(validator, collect, metrics, seal=seal), batch_messages=50, flush_s=0.2)
    await app.start()
    producer = AIOKafkaProducer(bootstrap_servers=shared["kafka"])
    await producer.start()
    try:
        events = bad_reviews(SimpleNamespace(registry=registry), CITY, "feed-staff", n=3)  # type: ignore[arg-type]
        broken = {**events[0], "event_id": "feed-broken", "level": "superb"}
        batch = encode_batch_parts(
            stream="evaluation", source=f"node-{CITY}", batch_id="feed-1", received_at=None, events=[*events, broken]
        )
        await producer.send_and_wait("raw.evaluation", batch, key=str(CITY).encode())
        await producer.send_and_wait("raw.evaluation", b"{not a batch", key=str(CITY).encode())
        # A gateway's sealed batch: its headers travel through the broker, and its events reach the rules as validated.
        more = bad_reviews(SimpleNamespace(registry=registry), CITY, "sealed-staff", n=2)  # type: ignore[arg-type]
        accepted, _ = validator.validate(STREAMS["evaluation"], f"node-{CITY}", more, datetime.now(UTC))
        value = encode_vetted(
            stream="evaluation",
            source=f"node-{CITY}",
            batch_id="feed-2",
            received_at=datetime.now(UTC),
            accepted=accepted,
        )
        await producer.send_and_wait("raw.evaluation", value, key=str(CITY).encode(), headers=seal.headers(value))

        async def all_seen() -> bool:
            return {e["event_id"] for e in [*events, *more]} <= set(seen)

        await eventually(all_seen, timeout_s=40)
        assert "feed-broken" not in seen
        assert metrics.batches_sealed.labels("raw.evaluation")._value.get() == 1
    finally:
        await producer.stop()
        await app.stop()
