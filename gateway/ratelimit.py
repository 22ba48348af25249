"""Per-token rate limiting, counted in Redis across every gateway process.

A fixed window per token. Each process counts its own requests and adds them to the window's
counter in Redis in batches (``INCRBY``, at most every ``sync_seconds`` per token, and always
before refusing), reading back the total of all processes. So the hot path needs no Redis round
trip, a request is refused only on the shared count, and processes can overshoot the limit by
at most what they admit within one sync interval. When Redis fails (logged and counted), each
process goes on enforcing the limit on its own count rather than failing the request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.errors import RateLimited
from shared.logging import get_logger
from shared.metrics import REDIS_FAILURES

log = get_logger(__name__)

# KEYS[1] window counter; ARGV[1] requests to add, ARGV[2] window length in ms.
_ADD = """
local count = redis.call('INCRBY', KEYS[1], ARGV[1])
if count == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return count
"""


@dataclass(slots=True)
class _Window:
    index: int
    shared: int = 0  # the count in Redis, as of the last sync
    pending: int = 0  # this process's requests not yet added to Redis
    synced_at: float = 0.0
    syncing: bool = False


class RateLimiter:
    def __init__(
        self, redis: Redis, *, limit: int, window_seconds: int, sync_seconds: float = 0.05
    ) -> None:
        self._add = redis.register_script(_ADD)
        self._limit = limit
        self._window_ms = window_seconds * 1000
        self._sync_seconds = sync_seconds
        self._windows: dict[str, _Window] = {}

    async def hit(self, subject: str) -> None:
        """Count one request by ``subject``; raise ``RateLimited`` past the limit."""
        now_ms = int(time.time() * 1000)
        index = now_ms // self._window_ms
        window = self._windows.get(subject)
        if window is None or window.index != index:
            window = self._windows[subject] = _Window(index)
        window.pending += 1
        over = window.shared + window.pending > self._limit
        due = time.monotonic() - window.synced_at >= self._sync_seconds
        if (over or due) and not window.syncing:
            await self._sync(subject, window)
            over = window.shared + window.pending > self._limit
        if over:
            left_ms = (index + 1) * self._window_ms - now_ms
            raise RateLimited(
                f"more than {self._limit} requests in {self._window_ms // 1000} s",
                retry_after=max(1, -(-left_ms // 1000)),
            )

    async def _sync(self, subject: str, window: _Window) -> None:
        delta, window.pending, window.syncing = window.pending, 0, True
        try:
            shared = await self._add(
                keys=[f"ratelimit:{subject}:{window.index}"], args=[delta, self._window_ms]
            )
        except RedisError as error:
            window.pending += delta
            REDIS_FAILURES.labels("ratelimit").inc()
            log.warning("ratelimit.redis_failed", error=str(error))
        else:
            window.shared = int(shared)
        finally:
            window.syncing = False
            window.synced_at = time.monotonic()
