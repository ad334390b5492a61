"""Login sessions and failed-login counts, kept in Redis with expiry.

The cookie holds a random token; Redis holds only its SHA-256, so a copy of
Redis does not hand out live sessions. Sessions end at a fixed lifetime
(a duty shift), at logout, or when the user is removed or disabled (checked
on every request by the API, not here).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis

_SESSION = "govpulse:session:"
_FAILURES = "govpulse:login-failures:"


def _key(token: str) -> str:
    return _SESSION + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    username: str
    expires_at: datetime


class SessionStore:
    def __init__(self, redis: aioredis.Redis, *, ttl_s: int, max_failures: int, lockout_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.max_failures = max_failures
        self.lockout_s = lockout_s

    async def create(self, username: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(username, datetime.now(UTC) + timedelta(seconds=self.ttl_s))
        body = json.dumps({"username": username, "expires_at": session.expires_at.isoformat()})
        await self.redis.set(_key(token), body, ex=self.ttl_s)
        return token, session

    async def get(self, token: str) -> Session | None:
        if not token or len(token) > 128:
            return None
        raw = await self.redis.get(_key(token))
        if raw is None:
            return None
        data = json.loads(raw)
        return Session(data["username"], datetime.fromisoformat(data["expires_at"]))

    async def end(self, token: str) -> None:
        await self.redis.delete(_key(token))

    async def locked_out(self, username: str) -> bool:
        count = await self.redis.get(_FAILURES + username)
        return count is not None and int(count) >= self.max_failures

    async def failed(self, username: str) -> None:
        """Count a failed login; the count expires `lockout_s` after the latest failure."""
        key = _FAILURES + username
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, self.lockout_s)
        await pipe.execute()

    async def succeeded(self, username: str) -> None:
        await self.redis.delete(_FAILURES + username)
