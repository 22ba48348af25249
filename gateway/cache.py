"""The dividends cache: Redis shared by every process, single-flight fills, a fixed TTL.

- One key per query shape. A value's expiry is fixed when it is fetched (``SET .. PX ttl``) and
  a hit never extends it, so under constant load a value is still refreshed every TTL.
- Each process mirrors the entries it has seen until the *same* absolute expiry, so a hit costs
  no Redis round trip and the TTL semantics stay those of the Redis entry.
- Concurrent misses for one key cause one fetch across all processes: one task per process
  leads (in-process single-flight), and the leaders race for a Redis lock; the losers poll the
  key until the winner has written it.
- Redis failing is never fatal: lookups count as misses, the lock is skipped, writes are
  dropped, and every request is answered from the fetch (logged).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.errors import ChainUnavailable
from shared.logging import get_logger
from shared.metrics import CACHE_HITS, CACHE_MISSES

log = get_logger(__name__)

# Deletes the lock only if this process still owns it (it may have expired and been retaken).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_POLL_SECONDS = 0.02
_LOCAL_MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached payload (JSON bytes) with the wall-clock times it was fetched and expires."""

    payload: bytes
    fetched_at: float
    expires_at: float

    def encode(self) -> bytes:
        return (
            orjson.dumps({"fetched_at": self.fetched_at, "expires_at": self.expires_at})
            + b"\n"
            + self.payload
        )

    @classmethod
    def decode(cls, raw: bytes) -> CacheEntry:
        header, _, payload = raw.partition(b"\n")
        times = orjson.loads(header)
        return cls(payload, float(times["fetched_at"]), float(times["expires_at"]))


@dataclass(frozen=True, slots=True)
class CacheResult:
    entry: CacheEntry
    # False only for the request whose own fetch produced the value.
    cached: bool

    def age_seconds(self, now: float) -> float:
        return max(0.0, now - self.entry.fetched_at)


class DividendCache:
    def __init__(self, redis: Redis, *, ttl_seconds: int, lock_timeout_seconds: float) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._lock_timeout = lock_timeout_seconds
        self._release = redis.register_script(_RELEASE)
        self._local: dict[str, CacheEntry] = {}
        self._inflight: dict[str, asyncio.Future[CacheEntry]] = {}

    async def get_or_fetch(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> CacheResult:
        """The value under ``key``, fetched (once, across processes) when absent or expired."""
        entry = self._local_hit(key) or await self._redis_hit(key)
        if entry is not None:
            CACHE_HITS.inc()
            return CacheResult(entry, cached=True)
        CACHE_MISSES.inc()
        inflight = self._inflight.get(key)
        if inflight is not None:
            return CacheResult(await asyncio.shield(inflight), cached=True)
        future: asyncio.Future[CacheEntry] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            result = await self._fill(key, fetch)
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # mark retrieved: waiters may not exist
            raise
        else:
            future.set_result(result.entry)
            return result
        finally:
            del self._inflight[key]

    def _local_hit(self, key: str) -> CacheEntry | None:
        entry = self._local.get(key)
        if entry is None:
            return None
        if entry.expires_at <= time.time():
            del self._local[key]
            return None
        return entry

    def _remember(self, key: str, entry: CacheEntry) -> None:
        if len(self._local) >= _LOCAL_MAX_ENTRIES:
            now = time.time()
            self._local = {k: e for k, e in self._local.items() if e.expires_at > now}
            while len(self._local) >= _LOCAL_MAX_ENTRIES:
                del self._local[next(iter(self._local))]
        self._local[key] = entry

    async def _redis_hit(self, key: str) -> CacheEntry | None:
        try:
            raw = await self._redis.get(key)
        except RedisError as error:
            log.warning("cache.redis_failed", op="get", key=key, error=str(error))
            return None
        if raw is None:
            return None
        entry = CacheEntry.decode(raw if isinstance(raw, bytes) else raw.encode())
        if entry.expires_at <= time.time():
            return None
        self._remember(key, entry)
        return entry

    async def _fill(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> CacheResult:
        lock_key, owner = f"lock:{key}", uuid.uuid4().hex
        deadline = time.monotonic() + self._lock_timeout * 2
        while time.monotonic() < deadline:
            if await self._acquire(lock_key, owner):
                try:
                    # Another process may have filled the key between our miss and the lock.
                    entry = await self._redis_hit(key)
                    if entry is not None:
                        return CacheResult(entry, cached=True)
                    return CacheResult(await self._fetch_and_store(key, fetch), cached=False)
                finally:
                    await self._unlock(lock_key, owner)
            await asyncio.sleep(_POLL_SECONDS)
            entry = await self._redis_hit(key)
            if entry is not None:
                return CacheResult(entry, cached=True)
        raise ChainUnavailable("timed out waiting for another request's chain read", retry_after=1)

    async def _acquire(self, lock_key: str, owner: str) -> bool:
        try:
            return bool(
                await self._redis.set(lock_key, owner, nx=True, px=int(self._lock_timeout * 1000))
            )
        except RedisError as error:
            # Without Redis there is no cross-process lock; in-process single-flight still holds.
            log.warning("cache.redis_failed", op="lock", key=lock_key, error=str(error))
            return True

    async def _unlock(self, lock_key: str, owner: str) -> None:
        try:
            await self._release(keys=[lock_key], args=[owner])
        except RedisError as error:
            log.warning("cache.redis_failed", op="unlock", key=lock_key, error=str(error))

    async def _fetch_and_store(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> CacheEntry:
        payload = await fetch()
        fetched_at = time.time()
        entry = CacheEntry(payload, fetched_at, fetched_at + self._ttl)
        try:
            await self._redis.set(key, entry.encode(), px=self._ttl * 1000)
        except RedisError as error:
            log.warning("cache.redis_failed", op="set", key=key, error=str(error))
        self._remember(key, entry)
        log.info("cache.filled", key=key, ttl_seconds=self._ttl)
        return entry
