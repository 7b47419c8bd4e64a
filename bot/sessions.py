"""State that requests share: conversations, their locks, and the Telegram updates already seen.

In memory by default (one process). In Redis when ``QUOTEBOT_REDIS_URL`` is set, so that
replicas behind one load balancer share it, each with Redis's own primitive:

- a conversation is compact JSON under ``quotebot:session:<key>`` (``tg:<chat id>`` or
  ``http:<session id>``), expiring when idle for the store's TTL;
- its turns are serialised by a redis-py ``Lock`` on ``quotebot:lock:<key>`` that expires
  by itself (``LOCK_TIMEOUT``), so a replica that dies holding it blocks nobody for long;
- a Telegram update is claimed with ``SET quotebot:update:<id> 1 NX EX 86400``, so a
  redelivered update is answered once by whichever replica gets it first.

A Redis store that loses its server (or whose password it refuses) keeps going in memory,
logs a warning, reports why in ``health()`` (``/healthz``), and goes back to Redis when it
returns. Memory is bounded in bytes, not entries: the least recently written conversations
are dropped first. ``make_store`` (in sessions_redis.py, beside the Redis store) picks
the one a process uses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections import OrderedDict
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from quotebot.errors import QuotebotError
from quotebot.session import SessionState

from .ratelimit import Arrival, RateLimiter

log = logging.getLogger(__name__)

#: Seconds an idle conversation is kept.
DEFAULT_TTL = 24 * 3600
#: Bytes the conversations of one process may take in memory (64 MiB: about 150,000
#: conversations of a typical question, 14,000 of the longest).
DEFAULT_MEMORY = 64 * 1024 * 1024
#: What one in-memory conversation costs besides its key and JSON: the dictionary slot, the
#: key, tuple, bytes and float objects (about 340 bytes with tracemalloc, CPython 3.11).
ENTRY_OVERHEAD = 360
#: Seconds a Telegram update id is remembered (Telegram gives up redelivering within a day).
UPDATE_TTL = 24 * 3600
#: Update ids one process remembers when there is no Redis.
RECENT_UPDATES = 10_000
#: Seconds a conversation's Redis lock lives if its holder never releases it (it crashed).
LOCK_TIMEOUT = 30.0
#: Seconds a turn waits for the conversation's previous turn before giving up.
LOCK_WAIT = 15.0
#: Seconds to keep to memory after Redis failed, before trying it again.
RETRY_AFTER = 1.0

_FIELDS = tuple(field.name for field in dataclasses.fields(SessionState))
_DEFAULTS = {name: getattr(SessionState(), name) for name in _FIELDS}
# One encoder for all: json.dumps with options builds a new one on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class ConversationBusy(QuotebotError):
    """Another turn of the same conversation held it for longer than ``LOCK_WAIT``."""

    code = "conversation_busy"
    http_status = 409


def encode_state(state: SessionState) -> bytes:
    """Compact UTF-8 JSON of the fields that differ from a fresh conversation's."""
    data = {name: value for name in _FIELDS
            if (value := getattr(state, name)) != _DEFAULTS[name]}
    return _ENCODER.encode(data).encode()


def decode_state(raw: bytes | str) -> SessionState:
    """The state ``encode_state`` wrote; a fresh one for anything unreadable."""
    try:
        return SessionState.from_json(json.loads(raw))
    except ValueError:
        return SessionState()


class SessionStore(Protocol):
    """Where conversations, their locks and seen update ids live."""

    #: "memory" or "redis".
    kind: str

    async def get(self, key: str) -> SessionState:
        """The conversation under ``key``, or a fresh one."""
        ...

    async def find(self, key: str) -> SessionState | None:
        """The conversation under ``key``; None if there is none (never was, or expired)."""
        ...

    async def put(self, key: str, state: SessionState) -> None: ...

    def lock(self, key: str) -> AbstractAsyncContextManager[Any]:
        """Held for one turn of the conversation ``key``."""
        ...

    async def first_delivery(self, update: str) -> bool:
        """True the first time ``update`` (a Telegram update's id) is seen, False after."""
        ...

    async def take(self, key: str, limiter: RateLimiter, arrived: Arrival | None = None
                   ) -> float:
        """Take one request from ``key``'s bucket of ``limiter``: 0 when allowed, else the
        seconds to wait. Shared by every process using the same Redis. ``arrived`` is when
        the request came in, when it waited (for its conversation) before being counted."""
        ...

    async def health(self) -> str | None:
        """None when the store works as configured, else why not (for /healthz)."""
        ...

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


class RecentIds:
    """The last ``size`` ids seen, so a redelivered update is acknowledged, not redone."""

    def __init__(self, size: int = RECENT_UPDATES) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first(self, update: str) -> bool:
        """True if ``update`` was not among the last ``size`` ids (and remember it)."""
        if update in self._ids:
            return False
        self._ids[update] = None
        while len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


class MemorySessionStore(_Locks):
    """Conversations in this process: idle ones expire after ``ttl`` seconds, and all of them
    together take at most ``max_bytes`` (the least recently written go first)."""

    kind = "memory"

    def __init__(self, ttl: float = DEFAULT_TTL, max_bytes: int = DEFAULT_MEMORY) -> None:
        super().__init__()
        self.ttl = ttl
        self.max_bytes = max_bytes
        #: Bytes the conversations take, as counted against ``max_bytes``.
        self.nbytes = 0
        # key -> (expiry on the monotonic clock, encoded state); oldest write first, which
        # with one TTL for all is also the order they expire in.
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._recent = RecentIds()

    def __len__(self) -> int:
        return len(self._data)

    @staticmethod
    def _cost(key: str, payload: bytes) -> int:
        return ENTRY_OVERHEAD + len(key) + len(payload)

    async def get(self, key: str) -> SessionState:
        state = await self.find(key)
        return SessionState() if state is None else state

    async def find(self, key: str) -> SessionState | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[0] < time.monotonic():
            self.forget(key)
            return None
        return decode_state(item[1])

    async def put(self, key: str, state: SessionState) -> None:
        payload = encode_state(state)
        self.forget(key)
        self._data[key] = (time.monotonic() + self.ttl, payload)
        self.nbytes += self._cost(key, payload)
        now = time.monotonic()
        while self._data and (self.nbytes > self.max_bytes or next(iter(self._data.values()))[0]
                              < now):
            old_key, (_, old) = self._data.popitem(last=False)
            self.nbytes -= self._cost(old_key, old)

    def forget(self, key: str) -> None:
        item = self._data.pop(key, None)
        if item is not None:
            self.nbytes -= self._cost(key, item[1])

    async def first_delivery(self, update: str) -> bool:
        return self._recent.first(update)

    async def take(self, key: str, limiter: RateLimiter, arrived: Arrival | None = None
                   ) -> float:
        now = arrived.monotonic if arrived is not None else None
        return 0.0 if limiter.allow(key, now) else max(limiter.retry_after(key), 1e-3)

    async def health(self) -> str | None:
        return None

    async def close(self) -> None:
        self._data.clear()
        self.nbytes = 0

