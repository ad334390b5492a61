"""The ceiling: a plain aiokafka consumer that reads the raw topics and validates, and does nothing else.

    python -m tests.bench.ceiling --bootstrap HOST:PORT --halls N --seconds S --warmup W --report FILE

Reads the gateway-shaped batches the benchmark put on the raw topics, decodes
and validates every event with the same models and registry as the worker, and
starts over from the beginning when it reaches the end, so the topics need
only one pass of the load (where the end is, the first pass learns: see
`consume`). Writes {events, seconds, cpu_s} for the window after warm-up to
FILE. What govpulse does on top (dedup, rows, ClickHouse,
dead letters, rules, offsets) is what the ceiling leaves out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.definitions import STREAMS, TOPIC_TO_STREAM
from streams.models.wire import BatchDecodeError, decode_batch
from streams.registry.generate import generate
from streams.validation import Validator
from tests.bench.procs import cpu_s

QUIET_S = 1.0  # nothing delivered for this long: the first pass has read all the load


async def consume(bootstrap: str, halls: int, seconds: float, warmup: float) -> dict[str, float]:
    validator = Validator(generate(halls=halls))
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in sorted(TOPIC_TO_STREAM)
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning()
        # Where a pass ends, learned by the first pass and never asked of the broker: Tansu reports a partition's end
        # as its newest batch's base offset + 1, short of the true end after a multi-record batch. The load was
        # produced before the ceiling started, so the first pass is over once QUIET_S pass with nothing delivered,
        # and the positions it reached are the ends of every pass after it (one idle second in the run).
        ends: dict[TopicPartition, int] | None = None
        quiet_since: float | None = None
        events = invalid = 0
        began = time.monotonic()
        window: dict[str, float] | None = None
        while True:
            now = time.monotonic()
            if window is None and now - began >= warmup:
                window = {"t": now, "events": events, "cpu": cpu_s(os.getpid())}
            if now - began >= warmup + seconds:
                break
            batches = await consumer.getmany(timeout_ms=200, max_records=200)
            clock = datetime.now(UTC)
            for tp, messages in batches.items():
                spec = STREAMS[TOPIC_TO_STREAM[tp.topic].name]
                for message in messages:
                    try:
                        batch = decode_batch(message.value)
                    except BatchDecodeError:
                        invalid += 1
                        continue
                    accepted, rejected = validator.validate(spec, batch.source, batch.events, clock)
                    events += len(accepted)
                    invalid += len(rejected)
            if batches:
                quiet_since = None
            elif ends is None:
                if quiet_since is None:
                    quiet_since = time.monotonic()
                elif time.monotonic() - quiet_since >= QUIET_S:
                    ends = {tp: await consumer.position(tp) for tp in partitions}
                    await consumer.seek_to_beginning()
            elif all([await consumer.position(tp) >= ends[tp] for tp in partitions]):
                await consumer.seek_to_beginning()  # one pass on the topics is enough: read it again
        assert window is not None
        took = time.monotonic() - window["t"]
        return {
            "events": events - window["events"],
            "seconds": took,
            "cpu_s": cpu_s(os.getpid()) - window["cpu"],
            "invalid": invalid,
        }
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--halls", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--report", type=Path, required=True)
    args = parser.parse_args()
    result = asyncio.run(consume(args.bootstrap, args.halls, args.seconds, args.warmup))
    args.report.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
