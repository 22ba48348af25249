"""The operations commands: stream status, and requeueing dead letters without redoing trades."""

from __future__ import annotations

from typing import Any

from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from consumers.sentiment_scorer.app import create_app as sentiment_scorer
from shared.documents import Trade, TradeState
from shared.settings import Settings
from shared.streams.ops import requeue, status
from shared.streams.topology import HopName, topology
from tests.conftest import HOTKEY
from tests.pipeline_support import (
    FAST_RECLAIM,
    completion,
    entry,
    pipeline_settings,
    running,
    tweets_fetched,
    wait_for_hop,
    wait_for_terminal,
)

FAST: dict[str, Any] = {
    "stream_max_attempts": 2,
    "chutes_max_attempts": 1,
    "chutes_fallback_models": "",
    **FAST_RECLAIM,
}


async def test_a_dead_letter_requeued_after_a_fix_is_processed(
    settings: Settings, redis: Redis, httpserver: HTTPServer
) -> None:
    """Chutes down: the entry is dead-lettered. Chutes back and requeued: it is scored."""
    settings = pipeline_settings(settings, httpserver, **FAST)
    hop = topology(settings)[HopName.SENTIMENT_SCORER]
    httpserver.expect_request("/v1/chat/completions").respond_with_data("down", status=503)
    async with running(sentiment_scorer(settings)):
        await redis.xadd(hop.stream, entry(tweets_fetched("req-1")))
        assert (await wait_for_terminal("req-1")).state == "dead_lettered"
        [before] = await status(redis, [hop])

        httpserver.clear()
        httpserver.expect_request("/v1/chat/completions").respond_with_json(
            completion('{"score": 55}')
        )
        [row] = await requeue(redis, hop, None)
        record = await wait_for_hop("req-1")
        trade = await Trade.get("req-1")
        [after] = await status(redis, [hop])
    assert (before.dead_letters, before.length) == (1, 1)
    assert (row.trade_id, row.action) == ("req-1", "requeued")
    assert record.summary["score"] == 55
    assert trade is not None
    assert trade.state == "in_progress"  # on to the stake-executor
    assert (after.dead_letters, after.length) == (0, 2)


async def test_a_dead_letter_of_a_completed_trade_is_not_requeued(
    settings: Settings, redis: Redis
) -> None:
    """Requeueing never redoes a trade that already executed: the letter is only removed."""
    hop = topology(settings)[HopName.SENTIMENT_SCORER]
    async with running(sentiment_scorer(settings)):  # binds the documents to the test database
        await Trade(
            id="done-1",
            trace_id="t",
            netuid=18,
            hotkey=HOTKEY,
            requested_by="r",
            state=TradeState.EXECUTED,
        ).insert()
        dead_id = await redis.xadd(
            hop.dead_letter_stream, {"data": entry(tweets_fetched("done-1"))["__data__"]}
        )
        [row] = await requeue(
            redis, hop, [dead_id.decode() if isinstance(dead_id, bytes) else dead_id]
        )
        stream_length = await redis.xlen(hop.stream)
        letters = await redis.xlen(hop.dead_letter_stream)
    assert row.action == "already completed"
    assert (stream_length, letters) == (0, 0)
