"""Entries read together are handled together, and each is still acknowledged for itself."""

from __future__ import annotations

import json

from prometheus_client import REGISTRY
from pytest_httpserver import HTTPServer
from redis.asyncio import Redis
from werkzeug import Request, Response

from consumers.tweet_fetcher.app import create_app
from offline.desearch import tweets_answer
from shared.documents import HopRecord, HopState
from shared.settings import Settings
from shared.streams.topology import HopName, topology
from tests.pipeline_support import entry, pipeline_settings, running, trade_requested, wait_for_hop
from tests.waiting import entries, eventually, pending_count


def tweets_except_on_subnet_19(request: Request) -> Response:
    """Desearch answering for every subnet but 19, which it is down for."""
    if "19" in request.args.get("query", ""):
        return Response("down", status=503)
    return Response(json.dumps(tweets_answer("SN18 ships")), mimetype="application/json")


def commands_sent(command: str) -> float:
    return REGISTRY.get_sample_value("taodiv_mongodb_commands_total", {"command": command}) or 0.0


async def test_an_entry_failing_in_a_batch_stays_pending_while_the_others_are_done(
    settings: Settings, redis: Redis, httpserver: HTTPServer
) -> None:
    """One batch: a valid trade, a malformed entry, a trade whose search fails. The first is
    done and acknowledged, the second dead-lettered, the third left pending for a redelivery."""
    httpserver.expect_request("/twitter").respond_with_handler(tweets_except_on_subnet_19)
    settings = pipeline_settings(settings, httpserver, desearch_max_attempts=1)
    hop = topology(settings)[HopName.TWEET_FETCHER]
    failing = trade_requested("down-1").model_copy(update={"netuid": 19})
    await redis.xgroup_create(hop.stream, hop.group, id="0", mkstream=True)
    await redis.xadd(hop.stream, entry(trade_requested("fine-1")))  # before the consumer
    await redis.xadd(hop.stream, {"__data__": b"not json"})  # starts: one batch
    await redis.xadd(hop.stream, entry(failing))
    async with running(create_app(settings)):
        done = await wait_for_hop("fine-1")
        failed = await eventually(lambda: attempted(failing.trade_id))
        dead = await entries(redis, hop.dead_letter_stream)
        pending = await redis.xpending_range(hop.stream, hop.group, "-", "+", 10)
    assert done.state is HopState.FINISHED
    assert failed.attempts == 1
    assert len(dead) == 1
    assert [p["times_delivered"] for p in pending] == [1]
    assert len(await entries(redis, settings.stream_tweets_fetched)) == 1


async def attempted(trade_id: str) -> HopRecord | None:
    record = await HopRecord.get(HopRecord.key(trade_id, HopName.TWEET_FETCHER.value))
    return record if record is not None and record.error else None


async def test_a_batch_of_first_deliveries_writes_each_collection_once(
    settings: Settings, redis: Redis, httpserver: HTTPServer
) -> None:
    """Ten trades written straight to the stream: their trade records in one insert, their
    finished hops in another, nothing read or updated one by one; one search for all."""
    httpserver.expect_request("/twitter").respond_with_json(tweets_answer("SN18 ships"))
    settings = pipeline_settings(settings, httpserver)
    hop = topology(settings)[HopName.TWEET_FETCHER]
    await redis.xgroup_create(hop.stream, hop.group, id="0", mkstream=True)
    for n in range(10):
        await redis.xadd(hop.stream, entry(trade_requested(f"batch-{n}")))
    before = {c: commands_sent(c) for c in ("insert", "update", "find", "findAndModify")}
    async with running(create_app(settings)):
        await eventually(lambda: all_acknowledged(redis, settings, 10))
        sent = {c: commands_sent(c) - n for c, n in before.items()}
    assert sent == {"insert": 2, "update": 0, "find": 0, "findAndModify": 0}
    assert len(httpserver.log) == 1


async def all_acknowledged(redis: Redis, settings: Settings, count: int) -> bool:
    stream, group = settings.stream_trade_requested, settings.group_tweet_fetcher
    written = len(await entries(redis, settings.stream_tweets_fetched))
    return written == count and await pending_count(redis, stream, group) == 0
