"""The embedded broker and Redis server as child processes, or the addresses of real ones from the DSNs."""

from __future__ import annotations

import asyncio
from functools import partial

from agents.services.base import running, stop_step
from agents.settings import Settings
from connectors.embedded import ChildProcess, free_port, tansu_broker, valkey_server
from connectors.kafka import topics as kafka_conn


class EmbeddedChildren:
    """Starts Tansu and valkey-server when the DSNs say `embedded`; either way, says where Kafka and Redis are."""

    name = "embedded children"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: The children started so far, in start order.
        self.children: list[ChildProcess] = []
        self._bootstrap: str | None = None
        self._redis_url: str | None = None

    @property
    def bootstrap(self) -> str:
        """host:port of the Kafka broker."""
        return running(self._bootstrap, "the Kafka broker")

    @property
    def redis_url(self) -> str:
        return running(self._redis_url, "Redis")

    async def start(self) -> None:
        s = self.settings
        if s.embedded_kafka:
            broker = tansu_broker(s.embedded_kafka_port or free_port(), s.data_dir / "logs")
            self.children.append(broker)
            await asyncio.to_thread(broker.start)
            self._bootstrap = f"127.0.0.1:{broker.port}"
        else:
            self._bootstrap = kafka_conn.bootstrap_servers(s.kafka_dsn)
        if s.embedded_redis:
            server = valkey_server(s.embedded_redis_port or free_port(), s.data_dir / "redis")
            self.children.append(server)
            await asyncio.to_thread(server.start)
            self._redis_url = f"redis://127.0.0.1:{server.port}/0"
        else:
            self._redis_url = s.redis_dsn

    async def stop(self) -> None:
        for child in reversed(self.children):
            await stop_step(child.name, partial(asyncio.to_thread, child.stop))
