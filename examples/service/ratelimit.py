"""A sliding-window rate limiter: Redis for many replicas, memory for one.

The limit is read from the live snapshot on every request, so a new RATE_LIMIT_REQUESTS
or RATE_LIMIT_WINDOW applies to the very next request after the swap. The window is a
sliding log (a sorted set of request times per client): exact, and the Lua script makes
check-and-add one atomic step on the Redis server, whose clock all replicas share.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass

import redis.asyncio as redis_async
from redis.exceptions import RedisError

from tierconf.integrations.redis import RedisClients
from tierconf.schema import TierConfig

logger = logging.getLogger("service.ratelimit")

#: KEYS[1] = the client's key; ARGV = window (ms), limit, a unique member.
#: Returns {allowed (0/1), remaining, retry_after_ms}.
SLIDING_WINDOW = """
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, limit - count - 1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, 0, tonumber(oldest[2]) + window - now}
"""

#: Plans above free may also use the burst allowance on top of the per-window limit.
BURST_PLANS = frozenset({"pro", "enterprise"})


@dataclass(frozen=True)
class Decision:
    """Whether a request may proceed, and what to tell the client."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    window: int

    def headers(self) -> dict[str, str]:
        """IETF RateLimit headers (and Retry-After when refused)."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, round(self.retry_after)))
        return headers


def limit_for(snapshot: TierConfig, plan: str) -> tuple[int, int]:
    """(requests per window, window seconds) for a client on ``plan``."""
    settings = snapshot.security.rate_limit
    burst = settings.burst if plan in BURST_PLANS else 0
    return settings.requests + burst, settings.window


class RateLimiter:
    """Checks one request against the limit in the snapshot it is given."""

    def __init__(self, redis_url: str | None, prefix: str, clients: RedisClients | None = None) -> None:
        """Use ``redis_url`` if given, else the config-driven ``clients`` (rebuilt live when
        ``database.redis`` changes), else memory only."""
        self.prefix = prefix
        self._redis = redis_async.from_url(redis_url) if redis_url else None
        self._script = self._redis.register_script(SLIDING_WINDOW) if self._redis is not None else None
        self._clients = clients if self._redis is None else None
        self._memory: dict[str, deque[float]] = {}

    def _run_with_clients(self, key: str, args: list[object]) -> list[int]:
        assert self._clients is not None
        with self._clients.cache() as client:
            result = client.eval(SLIDING_WINDOW, 1, key, *args)
        return [int(part) for part in result]

    async def check(self, snapshot: TierConfig, tenant: str, user: str, plan: str) -> Decision:
        """Count this request for (tenant, user) and decide."""
        limit, window = limit_for(snapshot, plan)
        settings = snapshot.security.rate_limit
        if not settings.enabled:
            return Decision(True, limit, limit, 0, window)
        key = f"{self.prefix}:ratelimit:{tenant}:{user}"
        if settings.storage == "redis" and (self._script is not None or self._clients is not None):
            args: list[object] = [window * 1000, limit, f"{time.time_ns()}-{secrets.token_hex(4)}"]
            try:
                if self._script is not None:
                    allowed, remaining, retry_ms = await self._script(keys=[key], args=args)
                else:
                    # The config-driven client is synchronous: keep the event loop free.
                    allowed, remaining, retry_ms = await asyncio.to_thread(self._run_with_clients, key, args)
            except RedisError as exc:
                # Fail open: an unreachable Redis must not take the API down with it.
                logger.warning("rate limiter: Redis unavailable (%s); request allowed", type(exc).__name__)
                return Decision(True, limit, limit, 0, window)
            return Decision(bool(allowed), limit, int(remaining), int(retry_ms) / 1000, window)
        return self._check_memory(key, limit, window)

    def _check_memory(self, key: str, limit: int, window: int) -> Decision:
        now = time.monotonic()
        log = self._memory.setdefault(key, deque())
        while log and log[0] <= now - window:
            log.popleft()
        if len(log) < limit:
            log.append(now)
            return Decision(True, limit, limit - len(log), 0, window)
        return Decision(False, limit, 0, log[0] + window - now, window)

    async def ping(self) -> bool:
        """Whether Redis answers (True when no Redis is configured)."""
        try:
            if self._redis is not None:
                return bool(await self._redis.ping())
            if self._clients is not None:
                return await asyncio.to_thread(self._ping_clients)
        except RedisError:
            return False
        return True

    def _ping_clients(self) -> bool:
        assert self._clients is not None
        with self._clients.cache() as client:
            return bool(client.ping())

    async def close(self) -> None:
        """Close the Redis connection pool."""
        if self._redis is not None:
            await self._redis.aclose()
        if self._clients is not None:
            self._clients.close()
