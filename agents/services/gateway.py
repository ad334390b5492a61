"""The ingest gateway's parts: the gateway itself, and the demo's node tokens issued before it loads them."""

from __future__ import annotations

import json

import structlog

from agents.services.base import running
from agents.services.kafka import KafkaProducer
from agents.services.spool import GatewaySpool
from agents.settings import Settings
from connectors.gateway.node_tokens import NodeTokens, issue_tokens, write_plain_tokens
from connectors.gateway.service import Gateway
from streams.metrics import Metrics
from streams.registry import Registry
from streams.validation import Validator
from streams.vetted import BatchSeal

log = structlog.get_logger(__name__)


def build_gateway(
    settings: Settings,
    validator: Validator,
    producer: KafkaProducer,
    metrics: Metrics,
    seal: BatchSeal,
    spool: GatewaySpool | None,
) -> Gateway:
    """The gateway, with the node tokens on disk now; without a token file every node is refused, with a warning."""
    s = settings
    kafka = producer.producer

    async def send_one(topic: str, key: bytes, value: bytes, headers: list[tuple[str, bytes]]) -> tuple[int, int]:
        meta = await kafka.send_and_wait(topic, value=value, key=key, headers=headers)
        return int(meta.partition), int(meta.offset)

    tokens = NodeTokens.load(s.tokens_path) if s.tokens_path.exists() else NodeTokens({})
    if not len(tokens):
        log.warning("no_node_tokens", path=str(s.tokens_path), hint="issue them with `govpulse tokens issue`")
    return Gateway(
        validator,
        tokens,
        send_one,
        producer.send_all,
        metrics,
        seal=seal,
        max_batch_events=s.max_batch_events,
        max_body_bytes=s.max_body_bytes,
        spool=spool.spool if spool is not None else None,
    )


class DemoTokens:
    """`govpulse up --simulate`: a token for every source and video node, kept in data_dir so restarts reuse them."""

    name = "demo tokens"

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.settings = settings
        self.registry = registry
        self._tokens: dict[str, str] | None = None

    @property
    def tokens(self) -> dict[str, str]:
        """Plain tokens by source id."""
        return running(self._tokens, "the demo's node tokens")

    async def start(self) -> None:
        s = self.settings
        plain_path = s.data_dir / "simulator_tokens.json"
        # City data nodes and video nodes both send.
        sources = [src.source_id for src in self.registry.sources()]
        sources += [node.node_id for node in self.registry.nodes()]
        if plain_path.exists():
            tokens: dict[str, str] = json.loads(plain_path.read_text(encoding="utf-8"))
            if set(tokens) >= set(sources):
                self._tokens = tokens
                return
        self._tokens = issue_tokens(sources, s.tokens_path)
        write_plain_tokens(self._tokens, plain_path)

    async def stop(self) -> None:
        pass  # the tokens stay valid for the next run
