"""Conversations, locks and update ids in Redis, shared by replicas (see
:mod:`quotebot.bot.sessions` for what lives where and why)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from quotebot.session import SessionState

from .config import redact_url
from .ratelimit import Arrival, RateLimiter
from .sessions import (
    DEFAULT_MEMORY,
    DEFAULT_TTL,
    LOCK_TIMEOUT,
    LOCK_WAIT,
    RETRY_AFTER,
    UPDATE_TTL,
    ConversationBusy,
    MemorySessionStore,
    SessionStore,
    decode_state,
    encode_state,
)

log = logging.getLogger(__name__)

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
        except BaseException:
            # Cancelled (the client hung up) with the SET NX perhaps done but its reply not
            # read: free the lock if it is ours, even if cancelled again, or the
            # conversation's next turns would be refused until it expires.
            with contextlib.suppress(RedisError, OSError):
                await asyncio.shield(lock.do_release(token))
            raise
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
