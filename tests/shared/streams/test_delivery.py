"""Delivery guarantees on real Redis and MongoDB: reclaim, retry limits, lost groups, outages."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from pytest_httpserver import HTTPServer
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from consumers.sentiment_scorer.app import create_app as sentiment_scorer
from consumers.tweet_fetcher.app import create_app as tweet_fetcher
from offline.desearch import tweets_answer
from shared.documents import HopRecord, HopState, init_documents, mongo_client
from shared.settings import Settings
from shared.streams.run import serve
from shared.streams.topology import HopName, topology
from tests.pipeline_support import (
    FAST_RECLAIM,
    entry,
    pipeline_settings,
    running,
    trade_requested,
    tweets_fetched,
    wait_for_hop,
    wait_for_terminal,
)
from tests.servers import disposable_mongo
from tests.waiting import entries, eventually, pending_count


async def group_exists(redis: Redis, stream: str, group: str) -> bool:
    """Whether the consumer app's start created its group (its documents are ready then)."""
    with contextlib.suppress(ResponseError):
        return any(g["name"] == group.encode() for g in await redis.xinfo_groups(stream))
    return False


async def none_pending(redis: Redis, stream: str, group: str) -> bool:
    return await pending_count(redis, stream, group) == 0


async def test_a_hop_that_keeps_failing_is_dead_lettered_after_exactly_max_attempts(
    settings: Settings, redis: Redis, httpserver: HTTPServer
) -> None:
    """Chutes down for good: three attempts, then <stream>.dlq with the error; the trade says so."""
    httpserver.expect_request("/v1/chat/completions").respond_with_data("down", status=503)
    settings = pipeline_settings(
        settings,
        httpserver,
        stream_max_attempts=3,
        chutes_max_attempts=1,
        chutes_fallback_models="",
        **FAST_RECLAIM,
    )
    async with running(sentiment_scorer(settings)):
        await redis.xadd(settings.stream_tweets_fetched, entry(tweets_fetched("doomed-1")))
        trade = await wait_for_terminal("doomed-1")
        record = await HopRecord.find_one(HopRecord.trade_id == "doomed-1")
        dead = await entries(redis, f"{settings.stream_tweets_fetched}.dlq")
        pending = await pending_count(
            redis, settings.stream_tweets_fetched, settings.group_sentiment_scorer
        )
    assert trade.state == "dead_lettered"
    assert record is not None
    assert record.attempts == 3
    assert len(httpserver.log) == 3
    [(_, fields)] = dead
    assert fields[b"attempts"] == b"3"
    assert b"ChutesUnavailable" in fields[b"error"]
    assert pending == 0


async def test_an_entry_left_pending_by_a_crashed_consumer_is_reclaimed(
    settings: Settings, redis: Redis, httpserver: HTTPServer
) -> None:
    """An entry read by a consumer that died before acknowledging it is taken over and done."""
    httpserver.expect_request("/twitter").respond_with_json(tweets_answer("SN18"))
    settings = pipeline_settings(settings, httpserver, **FAST_RECLAIM)
    hop = topology(settings)[HopName.TWEET_FETCHER]
    await redis.xgroup_create(hop.stream, hop.group, id="0", mkstream=True)
    await redis.xadd(hop.stream, entry(trade_requested("orphan-1")))
    taken = await redis.xreadgroup(hop.group, "crashed-consumer", {hop.stream: ">"}, count=1)
    assert taken  # the dead consumer holds it, unacknowledged
    async with running(tweet_fetcher(settings)):
        record = await wait_for_hop("orphan-1")
        await eventually(lambda: none_pending(redis, hop.stream, hop.group))
    assert record.attempts == 1


async def test_a_lost_consumer_group_is_recreated_and_consumption_goes_on(
    settings: Settings, redis: Redis, httpserver: HTTPServer
) -> None:
    """Redis flushed under a running consumer: the group comes back and new entries are done."""
    httpserver.expect_request("/twitter").respond_with_json(tweets_answer("SN18"))
    settings = pipeline_settings(settings, httpserver, **FAST_RECLAIM)
    hop = topology(settings)[HopName.TWEET_FETCHER]
    consumer = asyncio.create_task(serve(lambda: tweet_fetcher(settings), settings.redis_url, hop))
    try:
        await eventually(lambda: group_exists(redis, hop.stream, hop.group))
        await redis.xadd(hop.stream, entry(trade_requested("before-1")))
        await wait_for_hop("before-1")
        await redis.flushdb()
        await asyncio.sleep(0.5)  # the subscriber notices and the app is restarted
        await redis.xadd(hop.stream, entry(trade_requested("after-1")))
        record = await wait_for_hop("after-1")
    finally:
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
    assert record.state is HopState.FINISHED


async def test_entries_wait_for_mongodb_and_complete_once_it_is_back(
    settings: Settings, redis: Redis, httpserver: HTTPServer, tmp_path: Path
) -> None:
    """MongoDB down: entries stay pending without using up attempts, then complete; none lost."""
    httpserver.expect_request("/twitter").respond_with_json(tweets_answer("SN18"))
    with disposable_mongo(tmp_path) as mongo:
        settings = pipeline_settings(
            settings,
            httpserver,
            mongodb_url=mongo.url,
            mongodb_timeout_seconds=0.5,
            stream_max_attempts=2,
            **FAST_RECLAIM,
        )
        hop = topology(settings)[HopName.TWEET_FETCHER]
        async with running(tweet_fetcher(settings)):
            mongo.stop()
            for i in range(5):
                await redis.xadd(hop.stream, entry(trade_requested(f"outage-{i}")))
            await asyncio.sleep(2)  # several reclaim rounds while MongoDB is away
            pending = await pending_count(redis, hop.stream, hop.group)
            mongo.start()
            client = mongo_client(mongo.url, 5)
            await init_documents(client, settings.mongodb_database)
            records = [await wait_for_hop(f"outage-{i}", within=20) for i in range(5)]
            await client.close()
    assert pending == 5
    assert all(record.state is HopState.FINISHED for record in records)
    assert not await redis.exists(f"{hop.stream}.dlq")
