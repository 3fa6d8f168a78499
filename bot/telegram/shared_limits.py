"""Rate limits shared by several instances: a `RateLimiter` (bot/telegram/throttling.py) in Redis.

Imported only when `[scaling] redis_url` / `DIALOGBOT_REDIS_URL` is set, so a single instance
never loads the Redis client (about 6 MB resident).

One Lua script takes a token atomically on the server, by the server's clock (TIME), so the
instances' clocks need not agree; a bucket's key expires once it would have refilled
completely. While Redis cannot be reached the limiter falls back to its own in-memory buckets
(limits per instance again, with a warning at most once a minute) and tries Redis again after a
few seconds: a Redis outage never silences the bot.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.domain.pseudonym import keyed_hash
from bot.telegram.throttling import MemoryRateLimiter, Verdict

log = logging.getLogger(__name__)

# One person's bucket, atomically: refill by the time passed, take a token or refuse, and note
# whether this flood was already told. KEYS[1]: the bucket (a hash). ARGV: tokens per
# millisecond, burst, the key's lifetime in ms, and optionally "now" in ms (tests); without it
# the server's clock, the same for every instance. Returns 0 allow, 1 notify, 2 drop.
BUCKET_SCRIPT = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'notified')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
local notified = bucket[3] == '1'
if not tokens or not at then
  tokens = burst
  at = now
  notified = false
end
if now > at then  -- a clock that went back (a failover) neither refills nor moves `at` back
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local verdict
if tokens >= 1 then
  tokens = tokens - 1
  notified = false
  verdict = 0
elseif notified then
  verdict = 2
else
  notified = true
  verdict = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', at, 'notified', notified and 1 or 0)
redis.call('PEXPIRE', KEYS[1], ttl)
return verdict
"""

_VERDICTS = (Verdict.ALLOW, Verdict.NOTIFY, Verdict.DROP)
DEFAULT_NAMESPACE = "dialogbot:rate:"
# Each update waits for Redis, so give up quickly and fall back rather than stall the bot.
REDIS_TIMEOUT = 0.5
# Connections per instance; more checks at once wait (up to REDIS_TIMEOUT) for a free one.
REDIS_CONNECTIONS = 20
# After a failure, this long on the local buckets before Redis is tried again.
RETRY_AFTER = 5.0
# While Redis stays unreachable, the warning is repeated at most this often.
WARN_EVERY = 60.0


class RedisRateLimiter:
    """The same token buckets in Redis, shared by every instance that uses the server.

    Keys are `namespace` plus a keyed hash of the user id (the bot secret is the key), so Redis
    never holds a Telegram id, and bots with different secrets never share a bucket. While Redis
    cannot be reached, `fallback` (buckets in memory) decides instead.
    """

    def __init__(
        self,
        client: Redis,
        *,
        per_minute: int,
        burst: int,
        secret: str,
        namespace: str = DEFAULT_NAMESPACE,
        clock: Callable[[], float] = time.monotonic,
        shared_clock: Callable[[], float] | None = None,
        retry_after: float = RETRY_AFTER,
        warn_every: float = WARN_EVERY,
    ) -> None:
        self.fallback = MemoryRateLimiter(per_minute=per_minute, burst=burst, clock=clock)
        self._clock = clock
        self._redis = client
        self._script = client.register_script(BUCKET_SCRIPT)  # EVALSHA, loads on NOSCRIPT
        self._secret = secret
        self._namespace = namespace
        # Seconds; None: Redis's own clock (TIME). Only tests pass one.
        self._shared_clock = shared_clock
        # A bucket that was left alone this long is full again: it expires, and a new one is
        # created full. One second more than needed, so expiry never shortens a refill.
        full_ms = math.ceil(burst * 60_000 / per_minute)
        self._args: list[str | int] = [repr(per_minute / 60_000), burst, full_ms + 1000]
        self._retry_after = retry_after
        self._warn_every = warn_every
        self._offline_until = -math.inf
        self._offline_since: float | None = None
        self._warned = -math.inf  # the last warning, over all outages: one a minute at most
        self._announced = False  # this outage was logged, so its end is logged too
        self._deletions: set[asyncio.Task[None]] = set()

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisRateLimiter:
        pool = BlockingConnectionPool.from_url(
            url,
            max_connections=REDIS_CONNECTIONS,
            timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 1),  # once more on a stale pooled connection, no waiting
        )
        return cls(Redis.from_pool(pool), **options)

    def key(self, user_id: int) -> str:
        """The person's bucket in Redis."""
        return bucket_key(user_id, self._secret, self._namespace)

    @property
    def shared(self) -> bool:
        """Whether the limit is currently shared (Redis reachable at the last attempt)."""
        return self._offline_since is None

    async def check(self, key: int) -> Verdict:
        if self._clock() < self._offline_until:
            return self.fallback.take(key)
        args = self._args
        if self._shared_clock is not None:
            args = [*args, round(self._shared_clock() * 1000)]
        try:
            verdict = await self._script(keys=[self.key(key)], args=args)
        except (RedisError, OSError) as exc:  # OSError includes TimeoutError
            self._went_offline(self._clock(), exc)
            return self.fallback.take(key)
        if self._offline_since is not None:
            self._came_back(self._clock())
        return _VERDICTS[int(verdict)]

    def forget(self, key: int) -> None:
        """Erasure: the local bucket now, the shared one as soon as Redis answers."""
        self.fallback.forget(key)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop, no Redis call: the key expires once the bucket would be full
        task = loop.create_task(self._delete(key))
        self._deletions.add(task)
        task.add_done_callback(self._deletions.discard)

    async def close(self) -> None:
        if self._deletions:
            await asyncio.gather(*self._deletions)
        await self._redis.aclose()

    async def _delete(self, key: int) -> None:
        try:
            await self._redis.delete(self.key(key))
        except (RedisError, OSError) as exc:
            # Not fatal: the key holds no id and expires once the bucket would be full.
            log.warning("could not delete a rate-limit bucket in Redis: %s", _describe(exc))

    def _went_offline(self, now: float, exc: BaseException) -> None:
        self._offline_until = now + self._retry_after
        if self._offline_since is None:
            self._offline_since = now
        if now - self._warned >= self._warn_every:
            self._warned = now
            self._announced = True
            log.warning(
                "Redis unreachable or too slow (%s): rate limits are per instance until it answers "
                "again (next attempt in %.0f s)",
                _describe(exc),
                self._retry_after,
            )

    def _came_back(self, now: float) -> None:
        assert self._offline_since is not None
        if self._announced:
            log.warning(
                "Redis reachable again after %.0f s: rate limits are shared again",
                max(0.0, now - self._offline_since),
            )
        self._offline_since = None
        self._announced = False
        self.fallback.clear()  # Redis holds the state again


def bucket_key(user_id: int, secret: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """A person's bucket in Redis: no Telegram id, and a key of its own per bot secret."""
    return namespace + keyed_hash(f"rate-limit:{user_id}", secret)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
