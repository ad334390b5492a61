"""A full spool answers 503 with its reason, and loses nothing it had accepted.

`govpulse up` with the smallest spool (GOVPULSE_SPOOL_MAX_BYTES = 1 MiB) and
ClickHouse refusing writes from the start for 20 s: the worker cannot
store, so nothing leaves the spool, and batches are answered 202 until the
spool is full, then 503 `spool_full`. Once writes work again the spool
drains, batches are taken again, and every event answered 202 is stored
exactly once.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from connectors.gateway.node_tokens import issue_tokens
from tests.integration.crash_drill import EVENT_TABLES, _clickhouse_ids, traffic
from tests.integration.processes import Up, wait_for

pytestmark = pytest.mark.integration


def _post(base: str, stream: str, source: str, token: str, events: list[dict]) -> tuple[int, dict]:
    req = urllib.request.Request(
        f"{base}/api/v1/ingest/{stream}",
        data=json.dumps({"source": source, "events": events}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_full_spool_answers_503_and_what_it_accepted_is_stored_once(tmp_path: Path) -> None:
    batches = traffic(12_000)
    data = tmp_path / "up"
    data.mkdir()
    tokens = issue_tokens(sorted({s for s, _, _ in batches}), data / "node_tokens.json")
    env = {"GOVPULSE_SPOOL_MAX_BYTES": str(1024 * 1024), "GOVPULSE_FAULT_CLICKHOUSE_WRITES": "0:20"}
    up = Up(data, env=env)
    answered: set[str] = set()
    full: dict | None = None
    try:
        pending = list(batches)
        while pending and full is None:
            source, stream, evs = pending.pop(0)
            status, body = _post(up.base, stream, source, tokens[source], evs)
            if status == 503:
                full = body
                pending.insert(0, (source, stream, evs))
            elif status == 202:
                refused = {r["event_id"] for r in body["rejected"]}
                answered |= {e["event_id"] for e in evs if e["event_id"] not in refused}
        assert full is not None and full["error"] == "spool_full", full
        assert "retry later" in full["detail"]
        # Once ClickHouse takes writes again the spool drains, and the rest is taken.
        for source, stream, evs in pending:
            status, body = 503, {}
            for _ in range(120):
                status, body = _post(up.base, stream, source, tokens[source], evs)
                if status != 503:
                    break
                time.sleep(1)  # the node's retry: later, as the answer says
            assert status in (202, 400), body
            refused = {r["event_id"] for r in body["rejected"]}
            answered |= {e["event_id"] for e in evs if e["event_id"] not in refused}
        wait_for(lambda: sum(up.stats().get(t, 0) for t in EVENT_TABLES) >= len(answered), 180, "all stored")
    finally:
        code = up.terminate()
    assert code == 0
    rows, ids, _ = _clickhouse_ids(data)
    assert answered <= ids and rows == len(ids)
