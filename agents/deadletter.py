"""Agent: the dead-letter topic → the `rejections` table, for the data-quality view."""

from __future__ import annotations

from functools import partial
from typing import Any

import faust
import structlog

from agents.app import batches
from connectors.clickhouse.client import ClickHouse
from connectors.clickhouse.rows import REJECTION_COLUMNS
from streams.deadletter import DEAD_LETTER_TOPIC, rejection_row
from streams.metrics import Metrics
from streams.retry import retry_forever

log = structlog.get_logger(__name__)


def attach(
    app: faust.App, ch: ClickHouse, metrics: Metrics, *, batch_messages: int, flush_s: float, retry_max_s: float
) -> None:
    topic = app.topic(DEAD_LETTER_TOPIC, value_serializer="raw", key_serializer="raw")

    @app.agent(topic, name="deadletter-sink")
    async def sink(stream: faust.StreamT[Any]) -> None:
        async for events in batches(stream, batch_messages * 10, flush_s):
            rows = []
            for e in events:
                row = rejection_row(e.value, e.message.partition, e.message.offset)
                if row is None:
                    log.warning("dead_letter_unreadable", partition=e.message.partition, offset=e.message.offset)
                    continue
                rows.append(row)
            if rows:
                await retry_forever(
                    "rejections",
                    partial(ch.insert, "rejections", rows, REJECTION_COLUMNS),
                    metrics,
                    max_delay_s=retry_max_s,
                    count_failure=metrics.clickhouse_insert_failures.labels("rejections").inc,
                )
                metrics.clickhouse_insert_rows.labels("rejections").inc(len(rows))
