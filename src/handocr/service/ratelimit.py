"""Per-client rate limits: an in-memory sliding window, or a Redis fixed window shared between workers.

Both backends answer :meth:`RateLimiter.hit` with a :class:`RateDecision`, which the service turns
into ``RateLimit-Limit``/``RateLimit-Remaining``/``RateLimit-Reset`` headers (and ``Retry-After``
with a 429 when the request is refused).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from handocr.service.settings import Settings


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one hit: allowed or not, the limit, what is left and seconds until a slot frees."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int

    def headers(self) -> dict[str, str]:
        """The RateLimit-* headers (draft-ietf-httpapi-ratelimit-headers), plus Retry-After when refused."""
        headers = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_s))
        return headers


class RateLimiter(Protocol):
    """Counts requests per key in a window."""

    limit: int

    async def hit(self, key: str) -> RateDecision:
        """Count one request for ``key`` and say whether it is allowed."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryRateLimiter:
    """Exact sliding-window log per key, in this process (refused requests are not counted)."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._last_sweep = clock()

    async def hit(self, key: str) -> RateDecision:
        """Count one request for ``key`` now."""
        now = self.clock()
        self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            reset = math.ceil(hits[0] + self.window_s - now)
            return RateDecision(False, self.limit, 0, max(1, reset))
        hits.append(now)
        reset = math.ceil(hits[0] + self.window_s - now)
        return RateDecision(True, self.limit, self.limit - len(hits), max(0, reset))

    def _sweep(self, now: float) -> None:
        """Forget keys idle for a whole window (at most once per window), so memory stays bounded."""
        if now - self._last_sweep < self.window_s:
            return
        self._last_sweep = now
        for key in [k for k, hits in self._hits.items() if not hits or hits[-1] <= now - self.window_s]:
            del self._hits[key]

    async def close(self) -> None:
        """Nothing to release."""


class RedisRateLimiter:
    """Fixed window in Redis: ``INCR`` + ``EXPIRE`` on a key per client and window."""

    def __init__(self, client: Any, limit: int, window_s: int, prefix: str = "handocr:rl:") -> None:
        self.client = client
        self.limit = limit
        self.window_s = window_s
        self.prefix = prefix

    async def hit(self, key: str) -> RateDecision:
        """Count one request for ``key`` in the current window."""
        now = time.time()
        window = int(now // self.window_s)
        reset = max(1, math.ceil((window + 1) * self.window_s - now))
        redis_key = f"{self.prefix}{key}:{window}"
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.incr(redis_key)
            pipe.expire(redis_key, self.window_s + 1)
            count, _ = await pipe.execute()
        count = int(count)
        return RateDecision(count <= self.limit, self.limit, max(0, self.limit - count), reset)

    async def close(self) -> None:
        """Close the Redis connection pool."""
        await self.client.aclose()


def make_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The configured limiter: Redis if ``redis_url`` is set, else in memory; ``None`` if the limit is 0."""
    if settings.rate_limit == 0:
        return None
    if settings.redis_url:
        import redis.asyncio as redis

        client = redis.from_url(settings.redis_url.get_secret_value())
        return RedisRateLimiter(client, settings.rate_limit, settings.rate_window_s)
    return MemoryRateLimiter(settings.rate_limit, settings.rate_window_s)
