"""Where conversations live: in memory by default, in Redis when ``QUOTEBOT_REDIS_URL`` is set.

Both stores hold :class:`~quotebot.session.SessionState` as JSON under a key such as
``tg:<chat id>`` or ``http:<session id>``, expire idle conversations, and serialise
turns of the same conversation (``lock``) so that follow-ups see the previous answer.
A Redis store that loses its server keeps answering from memory, logs a warning, and
goes back to Redis when it returns.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

from quotebot.session import SessionState

log = logging.getLogger(__name__)

DEFAULT_TTL = 24 * 3600


class SessionStore(Protocol):
    async def get(self, key: str) -> SessionState: ...
    async def put(self, key: str, state: SessionState) -> None: ...
    def lock(self, key: str) -> asyncio.Lock: ...
    async def close(self) -> None: ...


class _Locks:
    """One asyncio lock per conversation key, forgotten when unused."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, key: str) -> asyncio.Lock:
        if len(self._locks) > 10_000:
            for k in [k for k, v in self._locks.items() if not v.locked()]:
                del self._locks[k]
        return self._locks.setdefault(key, asyncio.Lock())


class MemorySessionStore(_Locks):
    """Conversations in this process, idle ones expiring after ``ttl`` seconds."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_sessions: int = 100_000) -> None:
        super().__init__()
        self.ttl = ttl
        self.max_sessions = max_sessions
        self._data: OrderedDict[str, tuple[float, str]] = OrderedDict()

    async def get(self, key: str) -> SessionState:
        item = self._data.get(key)
        if item is None or item[0] < time.monotonic():
            self._data.pop(key, None)
            return SessionState()
        return SessionState.from_json(json.loads(item[1]))

    async def put(self, key: str, state: SessionState) -> None:
        self._data[key] = (time.monotonic() + self.ttl, json.dumps(state.to_json()))
        self._data.move_to_end(key)
        while len(self._data) > self.max_sessions:
            self._data.popitem(last=False)

    async def close(self) -> None:
        self._data.clear()


class RedisSessionStore(_Locks):
    """Conversations in Redis (shared by replicas), with a TTL; memory while Redis is down."""

    def __init__(self, url: str, ttl: int = DEFAULT_TTL, prefix: str = "quotebot:session:"
                 ) -> None:
        import redis.asyncio as redis

        super().__init__()
        self.url = url
        self.ttl = ttl
        self.prefix = prefix
        self._redis: Any = redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0,
                                          health_check_interval=5)
        self._fallback = MemorySessionStore(ttl=ttl)
        self._down_since: float | None = None

    def _failed(self, exc: Exception) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("Redis at %s is unreachable (%s); keeping conversations in memory "
                        "until it is back", _safe_url(self.url), exc.__class__.__name__)

    def _recovered(self) -> None:
        if self._down_since is not None:
            log.warning("Redis is reachable again after %.1f s; conversations are shared again",
                        time.monotonic() - self._down_since)
            self._down_since = None

    async def get(self, key: str) -> SessionState:
        from redis.exceptions import RedisError

        try:
            raw = await self._redis.get(self.prefix + key)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._fallback.get(key)
        self._recovered()
        if raw is None:
            return await self._fallback.get(key) if self._fallback._data else SessionState()
        try:
            return SessionState.from_json(json.loads(raw))
        except ValueError:
            return SessionState()

    async def put(self, key: str, state: SessionState) -> None:
        from redis.exceptions import RedisError

        payload = json.dumps(state.to_json())
        try:
            await self._redis.set(self.prefix + key, payload, ex=self.ttl)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            await self._fallback.put(key, state)
            return
        self._recovered()
        self._fallback._data.pop(key, None)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def _safe_url(url: str) -> str:
    """The Redis URL without its password, for logs."""
    if "@" in url:
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def make_store(redis_url: str | None, ttl: int = DEFAULT_TTL) -> SessionStore:
    if redis_url:
        return RedisSessionStore(redis_url, ttl=ttl)
    return MemorySessionStore(ttl=ttl)


@asynccontextmanager
async def conversation(store: SessionStore, key: str) -> AsyncIterator[None]:
    """Hold the conversation's lock for one turn."""
    async with store.lock(key):
        yield
