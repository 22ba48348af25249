"""The operations commands: stream status, and requeueing dead letters without redoing trades."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from consumers.sentiment_scorer.app import create_app as sentiment_scorer
from offline.chutes import completion
from shared.documents import HopRecord, HopState, Trade, TradeState
from shared.events import Event, StakeAction, StakeExecuted, utc_now
from shared.settings import Settings
from shared.streams.ops import (
    Resumed,
    consumers,
    dead_letters,
    requeue,
    requeue_each,
    resume,
    status,
)
from shared.streams.topology import HopName, topology
from tests.conftest import HOTKEY
from tests.pipeline_support import (
    FAST_RECLAIM,
    dead_letter,
    entry,
    pipeline_settings,
    running,
    sentiment_scored,
    tweets_fetched,
    wait_for_hop,
    wait_for_terminal,
)
from tests.waiting import add, entries, eventually

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


async def test_dead_letters_are_listed_newest_first_with_their_reason(
    settings: Settings, redis: Redis
) -> None:
    """A malformed entry and a hop that gave up: each listed with why, who and how often."""
    hop = topology(settings)[HopName.SENTIMENT_SCORER]
    async with running(sentiment_scorer(settings)):
        await redis.xadd(hop.stream, {"__data__": b"not json"})
        await eventually(lambda: _length_is(redis, hop.dead_letter_stream, 1))
        group_consumers = await consumers(redis, hop)
    await redis.xadd(hop.dead_letter_stream, dead_letter(tweets_fetched("gave-up-1")))

    newest, malformed = await dead_letters(redis, hop, count=10)
    assert (newest.trade_id, newest.original_id, newest.consumer) == ("gave-up-1", "1-1", "c-1")
    assert (newest.attempts, newest.error, newest.stream) == (5, "boom", hop.stream)
    assert malformed.trade_id is None
    assert malformed.attempts == 1
    assert malformed.error.startswith("invalid TweetsFetched")
    assert [d.entry_id for d in await dead_letters(redis, hop, count=1)] == [newest.entry_id]
    assert [c.name for c in group_consumers if c.name.startswith("sentiment-scorer-")]
    assert all(c.idle_seconds >= 0 for c in group_consumers)


async def test_a_stream_nobody_read_has_no_consumers_and_no_dead_letters(
    settings: Settings, redis: Redis
) -> None:
    hop = topology(settings)[HopName.TWEET_FETCHER]
    assert await consumers(redis, hop) == []
    assert await dead_letters(redis, hop, count=10) == []


@pytest.mark.usefixtures("documents")
async def test_requeue_each_finds_an_entry_in_whichever_dead_letter_stream_holds_it(
    settings: Settings, redis: Redis
) -> None:
    """The ids given are looked for in every hop's dead-letter stream (what `make requeue` does)."""
    hops = list(topology(settings).values())
    scorer = topology(settings)[HopName.SENTIMENT_SCORER]
    dead_id = await add(redis, scorer.dead_letter_stream, dead_letter(tweets_fetched("lost-1")))
    [row] = await requeue_each(redis, hops, [dead_id])
    assert (row.stream, row.trade_id, row.action) == (scorer.stream, "lost-1", "requeued")
    assert await redis.xlen(scorer.dead_letter_stream) == 0
    assert await redis.xlen(scorer.stream) == 1


async def _length_is(redis: Redis, stream: str, length: int) -> bool:
    return bool(await redis.xlen(stream) == length)


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


# --- resume: trades whose entry is gone ---

LONG_AGO = timedelta(hours=1)


async def idle_trade(trade_id: str, state: TradeState = TradeState.IN_PROGRESS) -> Trade:
    """A trade that has not moved for an hour, as one whose entry vanished with a Redis."""
    then = utc_now() - LONG_AGO
    trade = Trade(
        id=trade_id,
        trace_id=f"trace-{trade_id}",
        netuid=18,
        hotkey=HOTKEY,
        requested_by="r",
        state=state,
        requested_at=then,
        updated_at=then,
    )
    await trade.insert()
    return trade


async def finished_hop(trade_id: str, hop: HopName, output: Event, **fields: Any) -> None:
    then = utc_now() - LONG_AGO
    await HopRecord(
        id=HopRecord.key(trade_id, hop.value),
        trade_id=trade_id,
        hop=hop.value,
        state=HopState.FINISHED,
        attempts=1,
        entry_id="1-0",
        consumer="gone",
        started_at=then,
        finished_at=then,
        output=output.model_dump(mode="json"),
        **fields,
    ).insert()


async def resumed(settings: Settings, redis: Redis, idle_seconds: float = 600) -> list[Resumed]:
    hops = list(topology(settings).values())
    return await resume(redis, hops, idle_seconds=idle_seconds, maxlen=settings.stream_maxlen)


async def written(redis: Redis, stream: str) -> list[dict[str, Any]]:
    return [json.loads(fields[b"__data__"]) for _, fields in await entries(redis, stream)]


async def test_a_requested_trade_whose_request_was_lost_is_requested_again(
    settings: Settings, redis: Redis, documents: None
) -> None:
    trade = await idle_trade("lost-1", TradeState.REQUESTED)
    [row] = await resumed(settings, redis)
    [event] = await written(redis, settings.stream_trade_requested)
    assert (row.trade_id, row.action) == ("lost-1", f"sent to {settings.stream_trade_requested}")
    assert (event["trade_id"], event["trace_id"], event["hotkey"]) == (
        "lost-1",
        trade.trace_id,
        HOTKEY,
    )


async def test_a_trade_lost_between_hops_gets_the_recorded_event_of_its_last_hop(
    settings: Settings, redis: Redis, documents: None
) -> None:
    """The tweets were fetched and recorded; their entry vanished: they are sent on as they
    were, not fetched again."""
    await idle_trade("lost-2")
    fetched = tweets_fetched("lost-2", "SN18 ships", "bullish")
    await finished_hop("lost-2", HopName.TWEET_FETCHER, fetched)
    [row] = await resumed(settings, redis)
    [event] = await written(redis, settings.stream_tweets_fetched)
    assert row.action == f"sent to {settings.stream_tweets_fetched}"
    assert event == fetched.model_dump(mode="json")
    assert await written(redis, settings.stream_trade_requested) == []


async def test_a_trade_whose_every_hop_finished_is_ended_as_recorded(
    settings: Settings, redis: Redis, documents: None
) -> None:
    await idle_trade("lost-3")
    scored = sentiment_scored("lost-3", 60)
    await finished_hop("lost-3", HopName.TWEET_FETCHER, tweets_fetched("lost-3"))
    await finished_hop("lost-3", HopName.SENTIMENT_SCORER, scored)
    executed = StakeExecuted(
        **scored.lineage(), action=StakeAction.ADD, mode="paper", reason="positive", score=60
    )
    await finished_hop("lost-3", HopName.STAKE_EXECUTOR, executed, trade_state=TradeState.EXECUTED)
    [row] = await resumed(settings, redis)
    trade = await Trade.get("lost-3")
    assert row.action == "ended executed"
    assert trade is not None
    assert trade.state is TradeState.EXECUTED
    assert trade.outcome == executed.model_dump(mode="json")


async def test_trades_that_moved_recently_or_ended_are_left_alone(
    settings: Settings, redis: Redis, documents: None
) -> None:
    await Trade(id="busy-1", trace_id="t", netuid=18, hotkey=HOTKEY, requested_by="r").insert()
    await idle_trade("ended-1", TradeState.EXECUTED)
    assert await resumed(settings, redis) == []
    assert await written(redis, settings.stream_trade_requested) == []


async def test_a_resumed_trade_is_not_sent_again_by_the_next_resume(
    settings: Settings, redis: Redis, documents: None
) -> None:
    await idle_trade("lost-4", TradeState.REQUESTED)
    assert len(await resumed(settings, redis)) == 1
    assert await resumed(settings, redis) == []
    assert len(await written(redis, settings.stream_trade_requested)) == 1
