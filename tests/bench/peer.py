"""The peer: what a competent team writes first with Faust, run as its own process.

    BENCH_PEER_BOOTSTRAP=HOST:PORT BENCH_PEER_HALLS=N BENCH_PEER_CHDB=/path BENCH_PEER_REPORT=FILE \
        python -m tests.bench.peer worker -l warn --without-web

One event per Kafka message on `bench.peer.<stream>` topics, `async for event
in stream`, each event validated with the same models and registry as
govpulse, rows into the same ClickHouse tables (chDB) in batches of 1,000, plus
a timer that flushes what is left every second. Offsets are Faust's default
(acked as each event is read). No dedup, dead letters, rules or alerts: it
does less than govpulse, not more. Once a second it writes to the report file
the rows stored so far and a sample of latencies (from the message's broker
timestamp to the end of the INSERT that stored it) to FILE.latencies.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import faust

from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.migrations import migrate
from connectors.clickhouse.rows import ROW_BUILDERS
from streams.definitions import KIND_OF, STREAMS
from streams.ingest.port import Origin
from streams.registry.generate import generate
from streams.validation import Validator

FLUSH_ROWS = 1000
SAMPLE_EVERY = 20  # one latency sample per 20 rows keeps the report small
PEER_TOPICS = {f"bench.peer.{name}": name for name in STREAMS if name != "case"}

app = faust.App(
    "govpulse-bench-peer",
    broker=f"kafka://{os.environ.get('BENCH_PEER_BOOTSTRAP', '127.0.0.1:9092')}",
    store="memory://",
    web_enabled=False,
    autodiscover=False,
    consumer_auto_offset_reset="earliest",
    topic_allow_declare=False,
    # Tansu answers a group join after half the session timeout: keep it short, as govpulse does.
    broker_session_timeout=6.0,
    broker_heartbeat_interval=2.0,
    broker_rebalance_timeout=6.0,
)
events_topic = app.topic(*PEER_TOPICS, value_serializer="json")

_state: dict = {}


def _setup() -> dict:
    if not _state:
        validator = Validator(generate(halls=int(os.environ.get("BENCH_PEER_HALLS", "2100"))))
        ch = ClickHouse(f"chdb://{os.environ['BENCH_PEER_CHDB']}", "govpulse")
        ch.open()
        migrate(ch)
        _state.update(validator=validator, ch=ch, rows={}, stored=0, invalid=0, latencies=[])
    return _state


async def _flush(table_name: str) -> None:
    state = _state
    buffered = state["rows"].pop(table_name, [])
    if not buffered:
        return
    await state["ch"].insert(table_name, [row for row, _ in buffered], ROW_BUILDERS[table_name].columns)
    done = time.time()
    state["stored"] += len(buffered)
    state["latencies"].extend((ts, done - ts) for _, ts in buffered[::SAMPLE_EVERY])


@app.agent(events_topic)
async def store(events: faust.StreamT) -> None:
    state = _setup()
    async for event in events:
        message = events.current_event.message
        spec = STREAMS[PEER_TOPICS[message.topic]]
        now = datetime.now(UTC)
        accepted, _ = state["validator"].validate(spec, event.get("source", ""), [event], now)
        if not accepted:
            state["invalid"] += 1
            continue
        acc = accepted[0]
        table = KIND_OF[type(acc.event)].table
        origin = Origin(message.topic, 1, message.partition, message.offset, None, now)
        rows = state["rows"].setdefault(table, [])
        rows.extend((row, message.timestamp) for row in ROW_BUILDERS[table].rows([acc], origin))
        if len(rows) >= FLUSH_ROWS:
            await _flush(table)


@app.timer(1.0)
async def flush_and_report() -> None:
    if not _state:
        return
    for table_name in list(_state["rows"]):
        await _flush(table_name)
    path = Path(os.environ["BENCH_PEER_REPORT"])
    if _state["latencies"]:
        with path.with_suffix(".latencies").open("a") as out:
            out.writelines(f"{ts:.3f} {lat:.4f}\n" for ts, lat in _state["latencies"])
        _state["latencies"].clear()
    path.with_suffix(".tmp").write_text(json.dumps({"stored": _state["stored"], "invalid": _state["invalid"]}))
    path.with_suffix(".tmp").rename(path)


if __name__ == "__main__":
    app.main()
