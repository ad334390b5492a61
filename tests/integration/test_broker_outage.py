"""The broker down under a gateway: every batch is refused with 503, none is acknowledged.

Posting works again after the broker is back.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.embedded import free_port, tansu_broker
from connectors.gateway.node_tokens import issue_tokens
from connectors.kafka import topics as kafka_conn
from streams.registry.generate import generate
from tests.integration.processes import Up

pytestmark = pytest.mark.integration
CITY = 440300  # its own broker and no ClickHouse: no other test's data is near


def _post(base: str, token: str, events: list[dict[str, Any]]) -> tuple[int, float]:
    body = json.dumps({"source": f"node-{CITY}", "events": events}).encode()
    req = urllib.request.Request(
        f"{base}/api/v1/ingest/window",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    began = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, time.monotonic() - began
    except urllib.error.HTTPError as exc:
        return exc.code, time.monotonic() - began


def _events(n: int, tag: str) -> list[dict[str, Any]]:
    registry = generate(halls=300)
    hall = registry.halls_in_city(CITY)[0]
    window = next(w for w in registry.windows() if w.hall_id == hall.hall_id)
    now = datetime.now(UTC)
    return [
        {
            "event_id": f"outage-{tag}-{i}",
            "source": f"node-{CITY}",
            "seq": i,
            "occurred_at": (now - timedelta(seconds=5)).isoformat(),
            "sent_at": now.isoformat(),
            "type": "window_opened",
            "hall_id": hall.hall_id,
            "window_id": window.window_id,
        }
        for i in range(n)
    ]


def test_the_gateway_answers_503_while_the_broker_is_down(tmp_path: Path) -> None:
    """With the broker stopped no batch gets a 202; once it is back (topics recreated) batches are taken again."""
    port = free_port()
    broker = tansu_broker(port, tmp_path / "logs")
    broker.start()
    bootstrap = f"127.0.0.1:{port}"
    kafka_conn.ensure_topics(bootstrap, 4)
    token = issue_tokens([f"node-{CITY}"], tmp_path / "gw" / "node_tokens.json")[f"node-{CITY}"]
    gate = Up(tmp_path / "gw", env={"GOVPULSE_ROLES": "gateway", "GOVPULSE_KAFKA_DSN": f"kafka://{bootstrap}"})
    try:
        assert _post(gate.base, token, _events(5, "before"))[0] == 202
        broker.stop()
        during = [_post(gate.base, token, _events(5, f"down{i}")) for i in range(3)]
        assert [status for status, _ in during] == [503, 503, 503]
        print(f"answers while the broker was down: {[(s, round(t, 1)) for s, t in during]}")
        # Tansu keeps topics in memory: the restarted broker has none until they are created again, as `init` does.
        broker = tansu_broker(port, tmp_path / "logs")
        broker.start()
        kafka_conn.ensure_topics(bootstrap, 4)
        deadline = time.monotonic() + 90
        status = 0
        while time.monotonic() < deadline and status != 202:
            status, _ = _post(gate.base, token, _events(5, f"after{int(time.monotonic())}"))
            time.sleep(1)
        assert status == 202
    finally:
        code = gate.terminate()
        broker.stop()
    assert code == 0
