"""Polling helpers: tests watch other tasks and processes write to Redis and MongoDB."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from redis.asyncio import Redis

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


async def pending_count(redis: Redis, stream: str, group: str) -> int:
    summary = await redis.xpending(stream, group)
    return int(summary["pending"])
