"""City-node SDK: produce event batches straight to Kafka, for nodes that do not use HTTP.

Built on kafka-python so that a node needs no asyncio. Each `send` is one
Kafka message in the batch wire format, keyed by the node's city so that a
city's events stay in order on one partition. The worker validates every
record exactly as the gateway does, so a bad record still ends up in the
dead-letter topic with its reason.

Scope: over Kafka the broker's own authentication (SASL, ACLs on raw.*) is
what ties a connection to a node; the worker additionally rejects any record
whose entities belong to another city than the batch's source.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from kafka import KafkaProducer

from streams.definitions import STREAMS
from streams.models.wire import encode_batch_parts

DEFAULT_MAX_BATCH_EVENTS = 5000


class CityNodeProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        source: str,
        city_code: int,
        *,
        max_batch_events: int = DEFAULT_MAX_BATCH_EVENTS,
        **kafka_options: Any,
    ) -> None:
        self.source = source
        self.city_key = str(city_code).encode()
        self.max_batch_events = max_batch_events
        options: dict[str, Any] = {"acks": "all", "linger_ms": 5, "max_request_size": 16 * 1024 * 1024, "retries": 5}
        options.update(kafka_options)
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers, client_id=f"govpulse-sdk-{source}", **options
        )

    def send(self, stream: str, events: Iterable[dict[str, Any]], batch_id: str | None = None) -> list[Any]:
        """Queue the events as one batch (split above the batch limit); returns kafka-python futures."""
        spec = STREAMS.get(stream)
        if spec is None:
            raise ValueError(f"unknown stream {stream!r}; streams are {', '.join(STREAMS)}")
        events = list(events)
        base_id = batch_id or uuid.uuid4().hex
        futures = []
        for part, start in enumerate(range(0, max(len(events), 1), self.max_batch_events)):
            chunk = events[start : start + self.max_batch_events]
            value = encode_batch_parts(
                stream=stream, source=self.source, batch_id=f"{base_id}.{part}", received_at=None, events=chunk
            )
            futures.append(self._producer.send(spec.topic, value=value, key=self.city_key))
        return futures

    def send_and_wait(self, stream: str, events: Iterable[dict[str, Any]], timeout_s: float = 30.0) -> None:
        """Send and block until the broker has acknowledged every part."""
        for future in self.send(stream, events):
            future.get(timeout=timeout_s)

    def flush(self, timeout_s: float | None = None) -> None:
        self._producer.flush(timeout=timeout_s)

    def close(self) -> None:
        self._producer.close()

    def __enter__(self) -> CityNodeProducer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
