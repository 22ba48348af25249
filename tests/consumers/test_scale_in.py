"""Scale-in on real processes, Redis and MongoDB: a consumer stopped with SIGTERM while holding
entries leaves none stuck, and consumers that are gone leave the group once they hold nothing.

The reclaim idle time is far longer than these tests run, so an entry another consumer takes
over here was handed back by the stopping one, not merely found idle.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

from pytest_httpserver import HTTPServer
from redis.asyncio import Redis
from werkzeug import Request, Response

from offline.desearch import tweets_answer
from shared.documents import HopRecord, HopState
from shared.settings import Settings
from tests.pipeline_support import (
    DESEARCH_KEY,
    consumer_processes,
    entry,
    process_env,
    trade_requested,
    wait_for_hop,
)
from tests.waiting import eventually, pending_count

TRADES = 5
RECLAIM_IDLE = "600"


def slow_tweets(_request: Request) -> Response:
    time.sleep(0.6)  # each search is still running when the test acts
    return Response(json.dumps(tweets_answer("SN18")), mimetype="application/json")


def scale_in_env(
    settings: Settings, httpserver: HTTPServer, shutdown_timeout: str
) -> dict[str, str]:
    """Five entries read at once, as one batch; hand-back is the only fast reclaim."""
    return process_env(
        settings,
        DESEARCH_BASE_URL=httpserver.url_for("").rstrip("/"),
        DESEARCH_API_KEY=DESEARCH_KEY,
        STREAM_CONCURRENCY="1",
        STREAM_READ_COUNT=str(TRADES),
        SHUTDOWN_TIMEOUT_SECONDS=shutdown_timeout,
        STREAM_RECLAIM_IDLE_SECONDS=RECLAIM_IDLE,
        STREAM_RECLAIM_INTERVAL_SECONDS="0.2",
        STREAM_CONSUMER_REMOVE_IDLE_SECONDS="0.5",
    )


async def members(redis: Redis, stream: str, group: str) -> dict[str, int]:
    return {
        info["name"].decode(): int(info["pending"])
        for info in await redis.xinfo_consumers(stream, group)
    }


async def all_finished(trade_ids: list[str]) -> list[HopRecord] | None:
    records = [await HopRecord.find_one(HopRecord.trade_id == t) for t in trade_ids]
    done = [r for r in records if r is not None and r.state is HopState.FINISHED]
    return done if len(done) == len(trade_ids) else None


async def stop_while_searching(
    settings: Settings, redis: Redis, httpserver: HTTPServer, shutdown_timeout: str
) -> tuple[list[str], dict[str, str], int]:
    """Five entries read as one batch by a consumer that is then sent SIGTERM while its
    (slow) search runs; the trade ids, the environment, and the consumer's exit code."""
    httpserver.expect_request("/twitter").respond_with_handler(slow_tweets)
    env = scale_in_env(settings, httpserver, shutdown_timeout)
    stream, group = settings.stream_trade_requested, settings.group_tweet_fetcher
    trade_ids = [f"scale-{n}" for n in range(TRADES)]
    for trade_id in trade_ids:
        await redis.xadd(stream, entry(trade_requested(trade_id)))
    async with consumer_processes(env, "tweet-fetcher") as [stopping]:

        async def searching() -> bool:
            return bool(httpserver.log) and await pending_count(redis, stream, group) == TRADES

        await eventually(searching, within=60)
        stopping.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(stopping.wait(), 30)
    return trade_ids, env, code


async def test_a_consumer_stopped_with_a_batch_in_hand_finishes_it_and_leaves(
    settings: Settings, redis: Redis, httpserver: HTTPServer, documents: None
) -> None:
    """SIGTERM while a batch is in hand, within SHUTDOWN_TIMEOUT_SECONDS: the batch finishes,
    the process exits 0, and its names leave the group, holding nothing."""
    stream, group = settings.stream_trade_requested, settings.group_tweet_fetcher
    trade_ids, _env, code = await stop_while_searching(settings, redis, httpserver, "10")
    assert code == 0
    records = await eventually(lambda: all_finished(trade_ids), within=10)
    assert {r.attempts for r in records} == {1}
    assert await pending_count(redis, stream, group) == 0
    assert await members(redis, stream, group) == {}


async def test_a_batch_that_outlives_the_shutdown_timeout_is_handed_back(
    settings: Settings, redis: Redis, httpserver: HTTPServer, documents: None
) -> None:
    """Past SHUTDOWN_TIMEOUT_SECONDS the batch is cancelled and every entry handed back (made
    claimable at once, long before the reclaim idle time); a consumer started next completes
    them all, and the stopped one's name then leaves the group."""
    stream, group = settings.stream_trade_requested, settings.group_tweet_fetcher
    trade_ids, env, code = await stop_while_searching(settings, redis, httpserver, "0.2")
    assert code == 0
    left = await members(redis, stream, group)
    assert list(left.values()) == [TRADES]
    handed_back = await redis.xpending_range(stream, group, "-", "+", TRADES)
    assert all(int(p["time_since_delivered"]) >= int(RECLAIM_IDLE) * 1000 for p in handed_back)

    async with consumer_processes(env, "tweet-fetcher") as [successor]:
        records = await eventually(lambda: all_finished(trade_ids), within=60)
        await eventually(lambda: gone(redis, stream, group, set(left)), within=30)
        successor.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(successor.wait(), 30) == 0
    assert len(records) == TRADES
    assert await pending_count(redis, stream, group) == 0
    assert await members(redis, stream, group) == {}


async def gone(redis: Redis, stream: str, group: str, names: set[str]) -> bool:
    return not names & set(await members(redis, stream, group))


async def test_a_crashed_consumers_name_leaves_the_group_once_its_entry_is_reclaimed(
    settings: Settings, redis: Redis, httpserver: HTTPServer, documents: None
) -> None:
    """A consumer that died holding an entry (it never said goodbye) keeps its name while the
    entry is pending; a running consumer reclaims and completes the entry, then removes it."""
    httpserver.expect_request("/twitter").respond_with_handler(slow_tweets)
    env = {**scale_in_env(settings, httpserver, "10"), "STREAM_RECLAIM_IDLE_SECONDS": "0.3"}
    stream, group = settings.stream_trade_requested, settings.group_tweet_fetcher
    await redis.xgroup_create(stream, group, id="0", mkstream=True)
    await redis.xadd(stream, entry(trade_requested("crashed-1")))
    await redis.xreadgroup(group, "tweet-fetcher-crashed-host-1", {stream: ">"}, count=1)
    assert await members(redis, stream, group) == {"tweet-fetcher-crashed-host-1": 1}
    async with consumer_processes(env, "tweet-fetcher"):
        record = await wait_for_hop("crashed-1", within=60)
        await eventually(
            lambda: gone(redis, stream, group, {"tweet-fetcher-crashed-host-1"}), within=30
        )
    assert record.attempts == 1
