"""Bounded memory for the embedded broker: at its limit `govpulse up` renews itself, losing and refusing nothing.

A small limit (GOVPULSE_EMBEDDED_BROKER_MAX_MB=32; an empty broker holds
about 16 MB) is reached within seconds of traffic. Clients keep posting all
along: the process must keep its id and port, no request may be refused
(the listening socket is handed over, so a request made while it restarts
waits), the registry comes back from its snapshot, and every event answered
202 is stored exactly once.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from connectors.gateway.node_tokens import issue_tokens
from tests.integration.crash_drill import EVENT_TABLES, _clickhouse_ids, _post, traffic
from tests.integration.processes import Up, get, wait_for

pytestmark = pytest.mark.integration


def test_the_broker_is_renewed_at_its_limit_and_nothing_is_refused_lost_or_doubled(tmp_path: Path) -> None:
    batches = traffic(80_000)
    data = tmp_path / "up"
    data.mkdir()
    tokens = issue_tokens(sorted({s for s, _, _ in batches}), data / "node_tokens.json")
    up = Up(data, env={"GOVPULSE_EMBEDDED_BROKER_MAX_MB": "32", "GOVPULSE_LOG_LEVEL": "info"})
    try:
        pid = up.proc.pid
        registry_before = json.loads(get(f"{up.base}/healthz")[1])["registry"]
        answered: set[str] = set()
        lock = threading.Lock()

        def client(share: list[tuple[str, str, list[dict]]]) -> None:
            for source, stream, evs in share:
                time.sleep(0.2)  # paced over about 16 s, so that the broker is renewed while batches come in
                answer = _post(up.base, stream, source, tokens[source], evs)
                refused = {r["event_id"] for r in answer["rejected"]}
                with lock:
                    answered.update(e["event_id"] for e in evs if e["event_id"] not in refused)

        threads = [threading.Thread(target=client, args=(batches[n::4],)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_for(lambda: '"process_renewing"' in up.log_path.read_text(), 30, "a renewal of the broker")
        wait_for(lambda: '"registry_from_snapshot"' in up.log_path.read_text(), 60, "the renewed process started")
        log = up.log_path.read_text()
        renewals = log.count('"process_renewing"')
        assert up.proc.poll() is None and up.proc.pid == pid  # the same process, executed again
        wait_for(lambda: get(f"{up.base}/healthz")[0] == 200, 60, "healthz after the last renewal")
        assert '"registry_from_snapshot"' in log
        assert json.loads(get(f"{up.base}/healthz")[1])["registry"] == registry_before
        wait_for(
            lambda: sum(up.stats().get(t, 0) for t in EVENT_TABLES) >= len(answered),
            180,
            "every event answered 202 stored",
        )
    finally:
        code = up.terminate()
    assert code == 0
    rows, ids, _ = _clickhouse_ids(data)
    print(f"renewals {renewals}; answered 202 {len(answered)}; stored {rows} rows / {len(ids)} ids")
    assert answered <= ids and rows == len(ids)
    # No batch was answered 503 for want of a broker while it was renewed.
    assert "gateway_broker_unavailable" not in log
