"""Polling helpers: tests watch other tasks and processes write to Redis and MongoDB."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

T = TypeVar("T")
Entry = tuple[bytes, dict[bytes, bytes]]


async def eventually(probe: Callable[[], Awaitable[T | None]], *, within: float = 15.0) -> T:
    """The first non-None (and non-False) result of ``probe``, polled until ``within`` seconds."""
    async with asyncio.timeout(within):
        while not (result := await probe()):  # noqa: ASYNC110 - another task or process writes
            await asyncio.sleep(0.05)
    return result


async def entries(redis: Redis, stream: str) -> list[Entry]:
    """Every entry of ``stream`` as (id, fields)."""
    return cast(list[Entry], await redis.xrange(stream))


async def add(redis: Redis, stream: str, fields: dict[FieldT, EncodableT]) -> str:
    """XADD ``fields`` to ``stream``; the new entry's id."""
    entry_id = await redis.xadd(stream, fields)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


async def pending_count(redis: Redis, stream: str, group: str) -> int:
    summary = await redis.xpending(stream, group)
    return int(summary["pending"])
