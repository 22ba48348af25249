"""Per-token rate limiting in Redis, shared by every gateway process.

A fixed window per token: one atomic script increments the window's counter, sets its expiry
when the window starts and returns the count with the time left, in a single round trip. When
Redis fails the limiter lets the request through (and logs): losing the limiter for a moment is
better than refusing every client.
"""

from __future__ import annotations

import time

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.errors import RateLimited
from shared.logging import get_logger

log = get_logger(__name__)

# KEYS[1] counter; ARGV[1] window length in ms. Returns {count, ms left in the window}.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}
"""


class RateLimiter:
    def __init__(self, redis: Redis, *, limit: int, window_seconds: int) -> None:
        self._script = redis.register_script(_HIT)
        self._limit = limit
        self._window_ms = window_seconds * 1000

    async def hit(self, subject: str) -> None:
        """Count one request by ``subject``; raise ``RateLimited`` past the limit."""
        window = int(time.time() * 1000) // self._window_ms
        try:
            count, left_ms = await self._script(
                keys=[f"ratelimit:{subject}:{window}"], args=[self._window_ms]
            )
        except RedisError as error:
            log.warning("ratelimit.redis_failed", error=str(error))
            return
        if int(count) > self._limit:
            retry_after = max(1, -(-int(left_ms) // 1000))
            raise RateLimited(
                f"more than {self._limit} requests in {self._window_ms // 1000} s",
                retry_after=retry_after,
            )
