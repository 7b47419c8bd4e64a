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
are dropped first.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

from quotebot.bot.config import redact_url
from quotebot.bot.ratelimit import Arrival, RateLimiter
from quotebot.errors import QuotebotError
from quotebot.session import SessionState

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


#: Seconds between the pings /healthz starts (see RedisSessionStore.health).
HEALTH_EVERY = 1.0


class RedisSessionStore:
    """Conversations, locks and update ids in Redis (shared by replicas), with TTLs; in this
    process's memory while Redis is unreachable or refuses the credentials."""

    kind = "redis"

    def __init__(self, url: str, ttl: int = DEFAULT_TTL, max_bytes: int = DEFAULT_MEMORY,
                 prefix: str = "quotebot:") -> None:
        import redis.asyncio as redis

        self.url = url
        self.ttl = ttl
        self.prefix = prefix
        # A reply may take a while on a busy host (the event loop answers questions too); a
        # connection that cannot be made is given up at once.
        self._redis: Any = redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=1.0,
                                          health_check_interval=5)
        self._fallback = MemorySessionStore(ttl=ttl, max_bytes=max_bytes)
        self._bucket = self._redis.register_script(_GCRA)
        self._problem: str | None = None
        self._checked: float | None = None
        self._pinging: asyncio.Task[None] | None = None
        self._down_since: float | None = None
        self._retry_at = 0.0

    # -- Redis coming and going --------------------------------------------------------------

    def _usable(self) -> bool:
        return self._down_since is None or time.monotonic() >= self._retry_at

    def _failed(self, exc: Exception) -> None:
        from redis.exceptions import AuthenticationError

        where = redact_url(self.url)
        if isinstance(exc, AuthenticationError):
            problem = (f"Redis at {where} refused quotebot's credentials; check the password "
                       f"in QUOTEBOT_REDIS_URL")
        else:
            problem = f"Redis at {where} is unreachable ({exc.__class__.__name__})"
        self._retry_at = time.monotonic() + RETRY_AFTER
        problem += "; conversations are kept in memory, in this process only"
        if self._down_since is None or problem != self._problem:
            self._down_since = self._down_since or time.monotonic()
            log.warning("%s until it is back", problem)
        self._problem = problem

    def _recovered(self) -> None:
        if self._down_since is not None:
            log.warning("Redis is reachable again after %.1f s; conversations are shared again",
                        time.monotonic() - self._down_since)
            self._down_since = None
            self._problem = None

    # -- conversations -----------------------------------------------------------------------

    async def get(self, key: str) -> SessionState:
        state = await self.find(key)
        return SessionState() if state is None else state

    async def find(self, key: str) -> SessionState | None:
        from redis.exceptions import RedisError

        if not self._usable():
            return await self._fallback.find(key)
        try:
            raw = await self._redis.get(self.prefix + "session:" + key)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return await self._fallback.find(key)
        self._recovered()
        if raw is None:
            # Conversations started while Redis was away live on here until their next turn.
            return await self._fallback.find(key) if len(self._fallback) else None
        return decode_state(raw)

    async def put(self, key: str, state: SessionState) -> None:
        from redis.exceptions import RedisError

        if self._usable():
            try:
                await self._redis.set(self.prefix + "session:" + key, encode_state(state),
                                      ex=self.ttl)
            except (RedisError, OSError) as exc:
                self._failed(exc)
            else:
                self._recovered()
                self._fallback.forget(key)
                return
        await self._fallback.put(key, state)

    # -- locks ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        # The process's own lock first: turns waiting in this process queue here instead of
        # polling Redis, and it is all there is while Redis is away.
        async with self._fallback.lock(key):
            held = await self._acquire(key)
            try:
                yield
            finally:
                if held is not None:
                    await self._release(held)

    async def _acquire(self, key: str) -> Any:
        from redis.exceptions import RedisError

        if not self._usable():
            return None
        lock = self._redis.lock(self.prefix + "lock:" + key, timeout=LOCK_TIMEOUT,
                                blocking_timeout=LOCK_WAIT, sleep=0.02, thread_local=False,
                                lock_class=_lock_class())
        token = uuid.uuid4().hex.encode()
        try:
            acquired = await lock.acquire(token=token)
        except (RedisError, OSError) as exc:
            self._failed(exc)
            # Had the lock been taken before the reply was lost, free it now rather than
            # make the conversation's next turns wait for it to expire.
            with contextlib.suppress(RedisError, OSError):
                await lock.do_release(token)
            return None
        self._recovered()
        if not acquired:
            raise ConversationBusy(f"This conversation is still busy with an earlier question "
                                   f"after {LOCK_WAIT:g} s; please ask again in a moment.")
        return lock

    async def _release(self, lock: Any) -> None:
        from redis.exceptions import LockNotOwnedError, RedisError

        try:
            await lock.release()
        except LockNotOwnedError:
            log.warning("a turn held its conversation for over %g s, so the lock had expired",
                        LOCK_TIMEOUT)
        except (RedisError, OSError) as exc:
            self._failed(exc)

    # -- Telegram updates --------------------------------------------------------------------

    async def first_delivery(self, update: str) -> bool:
        from redis.exceptions import RedisError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        # Remembered here too, for the time Redis is away; while it is here, it alone decides
        # (two deliveries to this process may reach Redis in either order).
        first_here = await self._fallback.first_delivery(update)
        if not self._usable():
            return first_here
        key = self.prefix + "update:" + update
        token = uuid.uuid4().hex.encode()
        try:
            try:
                claimed = bool(await self._redis.set(key, token, nx=True, ex=UPDATE_TTL))
            except RedisTimeoutError:
                # The SET may have been done before its reply was lost: the key says by whom.
                holder = await self._redis.get(key)
                claimed = holder == token or (holder is None and bool(
                    await self._redis.set(key, token, nx=True, ex=UPDATE_TTL)))
        except (RedisError, OSError) as exc:
            self._failed(exc)
            return first_here
        self._recovered()
        return claimed

    # -- health --------------------------------------------------------------------------------

    async def take(self, key: str, limiter: RateLimiter, arrived: Arrival | None = None
                   ) -> float:
        """A token bucket in Redis (GCRA: the key holds the time the bucket is full again),
        so that replicas and workers share one limit per key."""
        from redis.exceptions import RedisError

        if not limiter.enabled:
            return 0.0
        if self._usable():
            interval = 1000.0 / limiter.rate  # ms per token
            at = [arrived.wall * 1000.0] if arrived is not None else []
            try:
                wait = await self._bucket(keys=[self.prefix + "rate:" + key],
                                          args=[interval, interval * limiter.burst, *at])
            except (RedisError, OSError) as exc:
                self._failed(exc)
            else:
                self._recovered()
                return float(wait) / 1000.0
        return await self._fallback.take(key, limiter, arrived)

    async def health(self) -> str | None:
        """What the last word from Redis said. Every call to Redis updates it; a ping runs
        in the background at most every :data:`HEALTH_EVERY` seconds, so /healthz never
        waits in line behind the conversations' own Redis traffic (only the first asks
        and waits)."""
        if self._checked is None:
            await self._ping()
        elif (time.monotonic() - self._checked >= HEALTH_EVERY
              and (self._pinging is None or self._pinging.done())):
            self._pinging = asyncio.create_task(self._ping())
        return self._problem

    async def _ping(self) -> None:
        from redis.exceptions import RedisError

        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            self._failed(exc)
        else:
            self._recovered()
        finally:
            self._checked = time.monotonic()

    async def close(self) -> None:
        if self._pinging is not None and not self._pinging.done():
            self._pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinging
        await self._redis.aclose()


@functools.cache
def _lock_class() -> type:
    """redis-py's asyncio Lock, taking a SET whose reply was lost as taken if it was ours."""
    from redis.asyncio.lock import Lock
    from redis.exceptions import TimeoutError as RedisTimeoutError

    class ClaimingLock(Lock):
        async def do_acquire(self, token: str | bytes) -> bool:
            try:
                return await super().do_acquire(token)
            except RedisTimeoutError:
                return bool(await self.redis.get(self.name) == token)

    return ClaimingLock


#: Take one token: KEYS[1] holds the time (ms) at which the bucket is full again; ARGV[1] is
#: the time one token takes to come back, ARGV[2] the time the whole bucket takes. Returns
#: 0 when allowed, else the ms to wait. The time is ARGV[3] (when the request arrived, ms
#: since the epoch) or else Redis's own clock.
_GCRA = """
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local full_at = tonumber(redis.call('GET', KEYS[1]) or now)
if full_at < now then full_at = now end
local next_full = full_at + interval
if next_full - now > capacity then
  return math.ceil(next_full - capacity - now)
end
local ttl = math.ceil(next_full - now) + 1000
redis.call('SET', KEYS[1], string.format('%.3f', next_full), 'PX', ttl)
return 0
"""


def make_store(redis_url: str | None, ttl: int = DEFAULT_TTL, max_bytes: int = DEFAULT_MEMORY
               ) -> SessionStore:
    """Redis when ``redis_url`` is set, else memory."""
    if redis_url:
        return RedisSessionStore(redis_url, ttl=ttl, max_bytes=max_bytes)
    return MemorySessionStore(ttl=ttl, max_bytes=max_bytes)
