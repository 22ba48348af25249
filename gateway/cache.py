"""The dividends cache: Redis shared by every process, a hot mirror in each, single-flight fills,
a fixed TTL.

- One key per query shape. A value's expiry is fixed when it is fetched (``SET .. PX ttl``) and
  a hit never extends it, so under constant load a value is still refreshed every TTL.
- Each process mirrors the entries it has seen until the Redis entry's own TTL runs out: the
  lookup reads the value and its remaining TTL (``PTTL``) in one round trip, and the mirror
  counts that down on this process's monotonic clock. A hit then costs no Redis round trip,
  no clock difference between hosts can stretch it, and no answer is older than the TTL.
- Concurrent lookups of one key in one process make one Redis round trip: the first starts a
  load (``gateway.singleflight``) and the others wait for it. A load that finds nothing races
  the other processes' loads for a Redis lock; the losers poll the key until the winner has
  written it. So a stampede of misses causes one chain read across all processes, and a cold
  process asks Redis once per key, not once per request.
- Redis failing is never fatal and is waited on once per load: a failed lookup, lock or poll
  (refused, timed out, no free connection) stops using Redis for that load, which reads the
  chain (single-flight in the process still holds); a failed write is dropped. Each failure is
  logged (``cache.redis_failed``) and counted (``taodiv_redis_failures_total``).
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

from gateway.singleflight import SingleFlight
from shared.errors import ChainUnavailable
from shared.logging import get_logger
from shared.metrics import CACHE_HITS, CACHE_MISSES, REDIS_FAILURES

log = get_logger(__name__)

# Deletes the lock only if this process still owns it (it may have expired and been retaken).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_POLL_SECONDS = 0.02
_LOCAL_MAX_ENTRIES = 10_000

Fetch = Callable[[], Awaitable[bytes]]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached payload (JSON bytes) with the wall-clock time it was fetched at."""

    payload: bytes
    fetched_at: float

    def encode(self) -> bytes:
        return orjson.dumps({"fetched_at": self.fetched_at}) + b"\n" + self.payload

    @classmethod
    def decode(cls, raw: bytes) -> CacheEntry:
        header, _, payload = raw.partition(b"\n")
        return cls(payload, float(orjson.loads(header)["fetched_at"]))


@dataclass(frozen=True, slots=True)
class CacheResult:
    entry: CacheEntry
    # False only for the request whose own fetch produced the value.
    cached: bool

    def age_seconds(self, now: float) -> float:
        return max(0.0, now - self.entry.fetched_at)


@dataclass(frozen=True, slots=True)
class _Mirrored:
    entry: CacheEntry
    until: float  # time.monotonic() at which the Redis entry expires (or earlier)


@dataclass(frozen=True, slots=True)
class _Loaded:
    """What a load found: ``found`` in Redis at the first look (a hit, else a miss), and whether
    this process ``fetched`` it from the chain."""

    entry: CacheEntry
    found: bool
    fetched: bool


class DividendCache:
    def __init__(self, redis: Redis, *, ttl_seconds: int, lock_timeout_seconds: float) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._lock_timeout = lock_timeout_seconds
        self._release = redis.register_script(_RELEASE)
        self._local: dict[str, _Mirrored] = {}
        self._loads: SingleFlight[_Loaded] = SingleFlight()

    async def get_or_fetch(self, key: str, fetch: Fetch) -> CacheResult:
        """The value under ``key``, fetched (once, across processes) when absent or expired."""
        mirrored = self._local.get(key)
        if mirrored is not None and mirrored.until > time.monotonic():
            CACHE_HITS.inc()
            return CacheResult(mirrored.entry, cached=True)
        try:
            loaded, started = await self._loads.run(key, lambda: self._load(key, fetch))
        except Exception:
            CACHE_MISSES.inc()  # only a load that found nothing can fail
            raise
        (CACHE_HITS if loaded.found else CACHE_MISSES).inc()
        return CacheResult(loaded.entry, cached=not (started and loaded.fetched))

    async def _load(self, key: str, fetch: Fetch) -> _Loaded:
        try:
            entry = await self._read(key)
            if entry is not None:
                return _Loaded(entry, found=True, fetched=False)
            return await self._fill(key, fetch)
        except RedisError as error:
            # Nothing was read from the chain yet; without Redis there is no cross-process lock
            # to take nor value to share, and a second try would wait on a dead Redis again.
            self._failed("read", key, error)
            return _Loaded(await self._fetch(key, fetch), found=False, fetched=True)

    async def _read(self, key: str) -> CacheEntry | None:
        """The value under ``key`` (then mirrored for the rest of its TTL), or None when absent."""
        async with self._redis.pipeline(transaction=False) as pipe:  # one round trip
            pipe.get(key)
            pipe.pttl(key)
            raw, ttl_ms = await pipe.execute()
        if raw is None or ttl_ms <= 0:  # absent, expired in between (-2), or without a TTL (-1)
            return None
        entry = CacheEntry.decode(raw)
        self._remember(key, entry, until=time.monotonic() + ttl_ms / 1000)
        return entry

    async def _fill(self, key: str, fetch: Fetch) -> _Loaded:
        """Read the chain under the cross-process lock, or wait for the process holding it."""
        lock_key, owner = f"lock:{key}", uuid.uuid4().hex
        # A holder that died keeps the lock until it expires; then a waiter takes it over.
        deadline = time.monotonic() + self._lock_timeout * 2
        while True:
            if await self._redis.set(lock_key, owner, nx=True, px=int(self._lock_timeout * 1000)):
                try:
                    # Another process may have filled the key between our miss and the lock.
                    entry = await self._read(key)
                    if entry is not None:
                        return _Loaded(entry, found=False, fetched=False)
                    entry = await self._fetch(key, fetch)
                    await self._store(key, entry)
                    return _Loaded(entry, found=False, fetched=True)
                finally:
                    await self._unlock(lock_key, owner)
            if time.monotonic() >= deadline:
                raise ChainUnavailable(
                    "timed out waiting for another request's chain read", retry_after=1
                )
            await asyncio.sleep(_POLL_SECONDS)
            entry = await self._read(key)
            if entry is not None:
                return _Loaded(entry, found=False, fetched=False)

    async def _fetch(self, key: str, fetch: Fetch) -> CacheEntry:
        """Read the chain; mirror the value for the TTL, which ends before the Redis entry's."""
        entry = CacheEntry(await fetch(), fetched_at=time.time())
        self._remember(key, entry, until=time.monotonic() + self._ttl)
        log.info("cache.filled", key=key, ttl_seconds=self._ttl)
        return entry

    async def _store(self, key: str, entry: CacheEntry) -> None:
        try:
            await self._redis.set(key, entry.encode(), px=self._ttl * 1000)
        except RedisError as error:
            self._failed("write", key, error)

    async def _unlock(self, lock_key: str, owner: str) -> None:
        try:
            await self._release(keys=[lock_key], args=[owner])
        except RedisError as error:
            self._failed("write", lock_key, error)

    def _remember(self, key: str, entry: CacheEntry, *, until: float) -> None:
        if len(self._local) >= _LOCAL_MAX_ENTRIES:
            now = time.monotonic()
            self._local = {k: m for k, m in self._local.items() if m.until > now}
            while len(self._local) >= _LOCAL_MAX_ENTRIES:
                del self._local[next(iter(self._local))]
        self._local[key] = _Mirrored(entry, until)

    @staticmethod
    def _failed(op: str, key: str, error: RedisError) -> None:
        REDIS_FAILURES.labels(f"cache_{op}").inc()
        log.warning("cache.redis_failed", op=op, key=key, error=str(error))
