"""The worker: raw batches from Kafka validated into ClickHouse, and the dead-letter topic into its table."""

from __future__ import annotations

import faust

from agents import deadletter as deadletter_agent
from agents import ingest as ingest_agent
from agents.app import build_app
from agents.services.base import running, stop_step
from agents.services.children import EmbeddedChildren
from agents.services.clickhouse import ClickHouseStore
from agents.services.kafka import KafkaProducer
from agents.services.rules import RulesEngine
from agents.settings import Settings
from connectors.clickhouse.event_store import ClickHouseEventStore
from connectors.kafka import topics as kafka_conn
from streams.ingest.processor import IngestProcessor
from streams.metrics import Metrics
from streams.validation import Validator
from streams.vetted import BatchSeal


class Worker:
    name = "worker"

    def __init__(
        self,
        settings: Settings,
        children: EmbeddedChildren,
        clickhouse: ClickHouseStore,
        producer: KafkaProducer,
        validator: Validator,
        metrics: Metrics,
        seal: BatchSeal,
        rules: RulesEngine | None,
    ) -> None:
        self.settings = settings
        self.children = children
        self.clickhouse = clickhouse
        self.producer = producer
        self.validator = validator
        self.metrics = metrics
        self.seal = seal
        #: The rules of this same process, or None when the center runs elsewhere (and reads the topics itself).
        self.rules = rules
        self._processor: IngestProcessor | None = None
        self._app: faust.App | None = None

    @property
    def processor(self) -> IngestProcessor:
        return running(self._processor, "the worker")

    @property
    def app(self) -> faust.App:
        return running(self._app, "the worker")

    def consuming(self) -> bool:
        return self._app is not None

    async def start(self) -> None:
        s = self.settings
        ch = self.clickhouse.client
        producer = self.producer

        async def send_dead_letters(items: list[tuple[bytes, bytes]]) -> None:
            await producer.send_all(kafka_conn.DEAD_LETTER_TOPIC, items)

        self._processor = IngestProcessor(
            self.validator,
            ClickHouseEventStore(ch),
            send_dead_letters,
            self.metrics,
            dedup_max_ids=s.dedup_max_ids,
            seal=self.seal,
            generations=self.clickhouse.generations,
            # In one process the rules see each batch as it is stored; apart, the center reads the topics itself.
            on_accepted=self.rules.runner.on_events if self.rules is not None else None,
            retry_max_s=s.sink_retry_max_s,
        )
        self._app = app = build_app(s, self.children.bootstrap)
        ingest_agent.attach(app, self._processor, batch_messages=s.sink_batch_messages, flush_s=s.sink_flush_s)
        deadletter_agent.attach(
            app,
            ch,
            self.metrics,
            batch_messages=s.sink_batch_messages,
            flush_s=s.sink_flush_s,
            retry_max_s=s.sink_retry_max_s,
        )
        await app.start()

    async def stop(self) -> None:
        processor, app = self._processor, self._app
        if processor is not None:
            # The write in flight lands first, so that its offsets are committed as the worker stops.
            await stop_step("worker writes", processor.settle)
        if app is not None:
            await stop_step(self.name, app.stop)
        if processor is not None:
            await stop_step("worker's last write", processor.settle)
