"""A consumer process stopped with SIGTERM finishes the entry in hand and exits cleanly."""

from __future__ import annotations

import asyncio
import json
import signal
import time

from pytest_httpserver import HTTPServer
from redis.asyncio import Redis
from werkzeug import Request, Response

from offline.desearch import tweets_answer
from shared.documents import HopRecord
from shared.settings import Settings
from tests.pipeline_support import (
    DESEARCH_KEY,
    consumer_processes,
    entry,
    process_env,
    trade_requested,
    wait_for_hop,
)
from tests.waiting import eventually


def slow_tweets(_request: Request) -> Response:
    time.sleep(1.5)  # the search is still running when SIGTERM arrives
    return Response(json.dumps(tweets_answer("SN18")), mimetype="application/json")


async def test_sigterm_lets_the_entry_in_hand_finish_then_exits(
    settings: Settings, redis: Redis, httpserver: HTTPServer, documents: None
) -> None:
    """SIGTERM mid-hop: the hop completes and is acknowledged, and the process exits with 0."""
    httpserver.expect_request("/twitter").respond_with_handler(slow_tweets)
    env = process_env(
        settings,
        DESEARCH_BASE_URL=httpserver.url_for("").rstrip("/"),
        DESEARCH_API_KEY=DESEARCH_KEY,
        SHUTDOWN_TIMEOUT_SECONDS="10",
    )
    async with consumer_processes(env, "tweet-fetcher") as [process]:
        entry_id = await redis.xadd(
            settings.stream_trade_requested, entry(trade_requested("stop-1"))
        )
        await eventually(lambda: HopRecord.find_one(HopRecord.trade_id == "stop-1"), within=60)
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        record = await wait_for_hop("stop-1", within=1)
        stream, group = settings.stream_trade_requested, settings.group_tweet_fetcher
        still_pending = await redis.xpending_range(stream, group, entry_id, entry_id, 1)
    assert code == 0
    assert record.attempts == 1
    assert still_pending == []
