"""The center's Redis clients: one that retries for every caller, and one without retries for the live feed."""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agents.services.base import running, stop_step
from agents.services.children import EmbeddedChildren


class RedisClients:
    name = "redis"

    def __init__(self, children: EmbeddedChildren) -> None:
        self.children = children
        self._client: aioredis.Redis | None = None
        self._feed_client: aioredis.Redis | None = None

    @property
    def client(self) -> aioredis.Redis:
        return running(self._client, "Redis")

    @property
    def feed_client(self) -> aioredis.Redis:
        """For the live feed's subscription only: a silent reconnect would hide the gap in which messages were lost,
        and the feed must see it to send every board a fresh snapshot."""
        return running(self._feed_client, "Redis")

    async def start(self) -> None:
        url = self.children.redis_url
        # After a Redis restart the pool's connections are dead; retrying once on a fresh one hides that from callers.
        self._client = aioredis.from_url(
            url,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), 2),
            retry_on_error=[RedisConnectionError, RedisTimeoutError],
        )
        await self._client.ping()
        self._feed_client = aioredis.from_url(url)  # connects on first use

    async def stop(self) -> None:
        if self._client is not None:
            await stop_step(self.name, self._client.aclose)
        if self._feed_client is not None:
            await stop_step("feed redis", self._feed_client.aclose)
