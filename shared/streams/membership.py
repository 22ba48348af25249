"""A consumer group's members as processes come and go (scale-in, rollouts, crashes).

Every process reads under its own consumer names (``shared.streams.app``), so each one that ever
ran leaves its names in the group. Two things keep the group clean without losing an entry:

- ``leave``: a stopping consumer, once its handlers have finished or timed out, hands back the
  entries it still holds: they are marked idle for STREAM_RECLAIM_IDLE_SECONDS, so the reclaimer
  of any other consumer takes them over on its next poll rather than after that idle time. Then
  its names are removed from the group, each one that holds nothing.
- ``remove_gone``: every consumer, every STREAM_CONSUMER_REMOVE_IDLE_SECONDS, removes the
  consumers idle longer than that with no pending entries (those of a crashed process, once its
  entries were reclaimed; those that handed entries back, once they were taken).

XGROUP DELCONSUMER drops a consumer's pending entries with it: an entry delivered to a consumer
between a check and a delete would never be delivered again. So the check and the delete run in
one Lua script, atomically, and only a consumer with no pending entry is ever removed.

``idle`` is what XINFO CONSUMERS reports. Since Redis 7.2 it counts from the consumer's last
attempt to read, so a running consumer (it polls all the time) never qualifies. Before 7.2 it
counts from the last entry it received, so a running consumer with no traffic can be removed;
holding nothing, it loses nothing, and its next read that delivers an entry re-creates it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError
from redis.typing import StreamIdT

from shared.logging import get_logger
from shared.streams.topology import Hop

log = get_logger(__name__)

# KEYS[1] stream; ARGV[1] group, ARGV[2] minimum idle (ms), ARGV[3..] the only names to consider
# (all the group's consumers when none). Returns the names removed.
REMOVE_IDLE_EMPTY = """
local only = {}
local restricted = #ARGV > 2
for i = 3, #ARGV do only[ARGV[i]] = true end
local removed = {}
for _, info in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local consumer = {}
  for i = 1, #info, 2 do consumer[info[i]] = info[i + 1] end
  if consumer.pending == 0 and consumer.idle >= tonumber(ARGV[2])
      and (not restricted or only[consumer.name]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], consumer.name)
    table.insert(removed, consumer.name)
  end
end
return removed
"""
# Pending entries read per XPENDING call while handing them back.
HAND_BACK_BATCH = 100


async def remove_gone(
    redis: Redis, hop: Hop, *, idle_seconds: float, only: Iterable[str] = ()
) -> list[str]:
    """Remove from the hop's group the consumers (of ``only``, when given) idle for
    ``idle_seconds`` or longer that hold no pending entry; returns their names."""
    script = redis.register_script(REMOVE_IDLE_EMPTY)
    args: list[str | int] = [hop.group, int(idle_seconds * 1000), *only]
    removed = await script(keys=[hop.stream], args=args)
    return [_text(name) for name in cast(list[Any], removed)]


async def hand_back(redis: Redis, hop: Hop, consumer: str, *, reclaim_idle_seconds: float) -> int:
    """Make every entry pending for ``consumer`` claimable now by other consumers' reclaimers
    (XCLAIM to itself with IDLE set to their threshold); returns how many there were.

    Only for a consumer that no longer works on any of them: another one may start at once.
    """
    idle_ms = int(reclaim_idle_seconds * 1000)
    start, handed = "-", 0
    while True:
        pending = await redis.xpending_range(
            hop.stream, hop.group, min=start, max="+", count=HAND_BACK_BATCH, consumername=consumer
        )
        ids: list[StreamIdT] = [cast(bytes, entry["message_id"]) for entry in pending]
        if ids:
            await redis.xclaim(hop.stream, hop.group, consumer, 0, ids, idle=idle_ms, justid=True)
            handed += len(ids)
        if len(ids) < HAND_BACK_BATCH:
            return handed
        start = f"({_text(cast(bytes, ids[-1]))}"


async def leave(
    redis: Redis, hop: Hop, consumers: list[str], *, reclaim_idle_seconds: float, within: float
) -> None:
    """What a stopping consumer does last: hand back what its names hold, remove the names
    that hold nothing. Bounded by ``within`` seconds; a failure is logged, not raised, as the
    process must stop anyway (its entries are then reclaimed once idle)."""
    try:
        async with asyncio.timeout(within):
            handed = 0
            for consumer in consumers:
                handed += await hand_back(
                    redis, hop, consumer, reclaim_idle_seconds=reclaim_idle_seconds
                )
            removed = await remove_gone(redis, hop, idle_seconds=0, only=consumers)
    except (RedisError, TimeoutError) as error:
        log.warning("consumer.leave_failed", hop=hop.name, error=str(error))
        return
    log.info("consumer.left", hop=hop.name, handed_back=handed, removed=removed)


async def remove_gone_periodically(
    redis: Redis, hop: Hop, *, idle_seconds: float, within: float
) -> None:
    """``remove_gone`` every ``idle_seconds`` until cancelled; failures are logged and retried
    on the next round."""
    while True:
        try:
            async with asyncio.timeout(within):
                removed = await remove_gone(redis, hop, idle_seconds=idle_seconds)
        except (RedisError, TimeoutError) as error:
            log.warning("consumer.remove_gone_failed", hop=hop.name, error=str(error))
        else:
            if removed:
                log.info("consumer.removed_gone", hop=hop.name, consumers=removed)
        await asyncio.sleep(idle_seconds)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
