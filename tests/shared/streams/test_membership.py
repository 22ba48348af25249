"""Group membership on real Redis: gone consumers are removed only when they hold nothing, and a
stopping consumer hands its entries back for others to claim at once."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from redis.asyncio import Redis

from shared.settings import Settings
from shared.streams.app import ensure_group
from shared.streams.membership import HAND_BACK_BATCH, hand_back, leave, remove_gone
from shared.streams.topology import Hop, HopName, topology
from tests.pipeline_support import entry, trade_requested
from tests.waiting import eventually

# Far longer than any test runs: an entry is claimable under it only if it was handed back.
RECLAIM_IDLE_SECONDS = 600.0


async def fetcher_hop(settings: Settings, redis: Redis, trades: int) -> Hop:
    """The tweet-fetcher's stream with `trades` entries, and its group."""
    hop = topology(settings)[HopName.TWEET_FETCHER]
    await ensure_group(redis, hop)
    for number in range(trades):
        await redis.xadd(hop.stream, entry(trade_requested(f"member-{number}")))
    return hop


async def take(redis: Redis, hop: Hop, consumer: str, count: int) -> list[bytes]:
    """`consumer` reads `count` new entries and leaves them pending; their ids."""
    answer = await redis.xreadgroup(hop.group, consumer, {hop.stream: ">"}, count=count)
    [[_stream, read]] = cast(list[list[Any]], answer)
    return [entry_id for entry_id, _fields in read]


async def members(redis: Redis, hop: Hop) -> dict[str, int]:
    """The group's consumers and how many entries each holds."""
    return {
        info["name"].decode(): int(info["pending"])
        for info in await redis.xinfo_consumers(hop.stream, hop.group)
    }


async def blocked_reads(redis: Redis) -> bool:
    """Whether a connection is blocked in XREADGROUP."""
    clients = await redis.client_list()
    return any(c.get("cmd") == "xreadgroup" and "b" in c.get("flags", "") for c in clients)


async def claimable(redis: Redis, hop: Hop, count: int = 1000) -> list[bytes]:
    """Entries another consumer's reclaimer would take now (idle for RECLAIM_IDLE_SECONDS)."""
    result = await redis.xautoclaim(
        hop.stream,
        hop.group,
        "other-reclaimer",
        int(RECLAIM_IDLE_SECONDS * 1000),
        count=count,
        justid=True,
    )
    return list(result)  # with JUSTID, redis-py answers the claimed ids alone


async def test_a_gone_consumer_holding_nothing_is_removed_and_one_holding_entries_is_not(
    settings: Settings, redis: Redis
) -> None:
    """Idle long enough: the consumer with no pending entry leaves the group; the one with a
    pending entry stays, and so does its entry."""
    hop = await fetcher_hop(settings, redis, trades=2)
    (done,) = await take(redis, hop, "gone-empty", 1)
    await redis.xack(hop.stream, hop.group, done)
    (held,) = await take(redis, hop, "gone-holding", 1)
    await asyncio.sleep(0.05)
    removed = await remove_gone(redis, hop, idle_seconds=0.01)
    assert removed == ["gone-empty"]
    assert await members(redis, hop) == {"gone-holding": 1}
    (pending,) = await redis.xpending_range(hop.stream, hop.group, "-", "+", 10)
    assert pending["message_id"] == held


async def test_a_consumer_idle_for_less_than_the_threshold_stays(
    settings: Settings, redis: Redis
) -> None:
    """A consumer that read a moment ago is not taken for gone, even holding nothing."""
    hop = await fetcher_hop(settings, redis, trades=1)
    (done,) = await take(redis, hop, "recent", 1)
    await redis.xack(hop.stream, hop.group, done)
    assert await remove_gone(redis, hop, idle_seconds=300) == []
    assert await members(redis, hop) == {"recent": 0}


async def test_only_the_named_consumers_are_considered_when_names_are_given(
    settings: Settings, redis: Redis
) -> None:
    """remove_gone(only=...) leaves every other consumer alone, idle or not."""
    hop = await fetcher_hop(settings, redis, trades=2)
    for consumer in ("mine", "theirs"):
        (done,) = await take(redis, hop, consumer, 1)
        await redis.xack(hop.stream, hop.group, done)
    assert await remove_gone(redis, hop, idle_seconds=0, only=["mine"]) == ["mine"]
    assert await members(redis, hop) == {"theirs": 0}


async def test_handed_back_entries_are_claimable_by_others_at_once(
    settings: Settings, redis: Redis
) -> None:
    """Before: another reclaimer finds nothing idle enough. After hand_back: every entry the
    consumer held, more than one XPENDING page of them, is claimable now."""
    trades = HAND_BACK_BATCH + 20
    hop = await fetcher_hop(settings, redis, trades=trades)
    held = await take(redis, hop, "stopping", trades)
    assert await claimable(redis, hop) == []
    handed = await hand_back(redis, hop, "stopping", reclaim_idle_seconds=RECLAIM_IDLE_SECONDS)
    assert handed == trades
    assert sorted(await claimable(redis, hop)) == sorted(held)


async def test_leaving_hands_back_then_removes_the_names_that_hold_nothing(
    settings: Settings, redis: Redis
) -> None:
    """A stopping consumer's worker name keeps its entries (now claimable) until someone takes
    them; its reclaimer name, holding nothing, leaves the group; others stay."""
    hop = await fetcher_hop(settings, redis, trades=4)
    held = await take(redis, hop, "p-1", 2)
    (done,) = await take(redis, hop, "p-1-reclaimer", 1)
    await redis.xack(hop.stream, hop.group, done)
    await take(redis, hop, "someone-else", 1)
    await leave(
        redis,
        hop,
        ["p-1", "p-1-reclaimer"],
        reclaim_idle_seconds=RECLAIM_IDLE_SECONDS,
        within=5,
    )
    assert await members(redis, hop) == {"p-1": 2, "someone-else": 1}
    assert sorted(await claimable(redis, hop)) == sorted(held)


async def test_leaving_with_nothing_held_removes_every_name(
    settings: Settings, redis: Redis
) -> None:
    """A consumer that finished everything it held is gone from the group when it stops."""
    hop = await fetcher_hop(settings, redis, trades=1)
    (done,) = await take(redis, hop, "p-2", 1)
    await redis.xack(hop.stream, hop.group, done)
    await leave(redis, hop, ["p-2", "p-2-reclaimer"], reclaim_idle_seconds=30, within=5)
    assert await members(redis, hop) == {}


async def test_leaving_without_redis_gives_up_quietly(settings: Settings) -> None:
    """Redis unreachable at shutdown: leave returns (the process must stop anyway)."""
    hop = topology(settings)[HopName.TWEET_FETCHER]
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        await leave(unreachable, hop, ["p-3"], reclaim_idle_seconds=30, within=2)
    finally:
        await unreachable.aclose()


async def test_a_removed_consumer_blocked_in_a_read_still_gets_the_next_entry(
    settings: Settings, redis: Redis, redis_url: str
) -> None:
    """A running consumer with no traffic taken for gone (Redis before 7.2 counts idle from the
    last delivery) loses nothing: its blocked read receives the next entry, under its name."""
    hop = await fetcher_hop(settings, redis, trades=1)
    (done,) = await take(redis, hop, "quiet", 1)
    await redis.xack(hop.stream, hop.group, done)
    reader = Redis.from_url(redis_url)

    async def read() -> list[Any]:
        answer = await reader.xreadgroup(hop.group, "quiet", {hop.stream: ">"}, block=10_000)
        return cast(list[Any], answer)

    try:
        blocked = asyncio.create_task(read())
        await eventually(lambda: blocked_reads(redis))
        assert await remove_gone(redis, hop, idle_seconds=0) == ["quiet"]
        sent = await redis.xadd(hop.stream, entry(trade_requested("after-removal")))
        [[_stream, [(received, _fields)]]] = await blocked
    finally:
        await reader.aclose()
    assert received == sent
    assert await members(redis, hop) == {"quiet": 1}
