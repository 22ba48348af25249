"""Run a consumer app so that losing its consumer group does not end the process.

When a group disappears (Redis flushed, or restarted without persistence) FastStream stops the
subscriber and exits the app with code 0, which a supervisor that restarts only failures would
take for a clean stop. ``serve`` runs the app; when the app stops and the group is gone, it
recreates the group and runs a fresh app; when the group is still there, the stop was asked for
(SIGINT/SIGTERM) and ``serve`` returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from faststream import FastStream
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.logging import get_logger
from shared.streams.app import ensure_group
from shared.streams.topology import Hop

log = get_logger(__name__)


async def serve(create_app: Callable[[], FastStream], redis_url: str, hop: Hop) -> None:
    redis = Redis.from_url(redis_url)
    try:
        while True:
            await create_app().run()
            if await _group_exists(redis, hop):
                return
            log.warning("consumer.group_lost", stream=hop.stream, group=hop.group)
            await ensure_group(redis, hop)
    finally:
        await redis.aclose()


async def _group_exists(redis: Redis, hop: Hop) -> bool:
    """Whether the hop's group exists; waits for Redis while it is unreachable."""
    while True:
        try:
            groups = await redis.xinfo_groups(hop.stream)
        except RedisError as error:
            if "no such key" in str(error).lower():
                return False
            log.warning("consumer.redis_unreachable", error=str(error))
            await asyncio.sleep(1)
            continue
        return any(_name(group) == hop.group for group in groups)


def _name(group: dict[str, object]) -> str:
    name = group.get("name")
    return name.decode() if isinstance(name, bytes) else str(name)
