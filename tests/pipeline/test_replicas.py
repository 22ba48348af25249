"""Two replicas of each consumer share the load, and no trade is processed twice.

Six real consumer processes (``python -m consumers <name>``, two per hop, as compose runs them
with ``*_REPLICAS=2``) trade live on the offline devnode, all signing with one coldkey; Desearch
and Chutes are HTTP fakes on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from offline.chutes import completion
from offline.desearch import tweets_answer
from offline.devnode.node import DevNode
from shared.documents import TERMINAL_STATES, HopRecord, StakeClaim, Trade, TradeState
from shared.settings import Settings
from shared.streams.topology import HopName
from tests.pipeline_support import (
    CHUTES_KEY,
    DESEARCH_KEY,
    consumer_processes,
    entry,
    process_env,
    trade_requested,
)
from tests.waiting import eventually

TRADES = 24
REPLICAS = 2


@pytest.fixture
async def node() -> AsyncIterator[DevNode]:
    devnode = DevNode()
    async with devnode:
        yield devnode


async def readers(redis: Redis, db: int) -> int:
    """Connections blocked reading a stream of database ``db``: one per consumer process.

    (Redis lists a group's consumer only once an entry was delivered to it, so the group
    cannot tell that a replica is ready.)
    """
    clients = await redis.client_list()
    return sum(1 for c in clients if c.get("cmd") == "xreadgroup" and int(c["db"]) == db)


async def test_two_replicas_of_each_consumer_share_the_trades_and_do_each_once(
    settings: Settings,
    redis: Redis,
    httpserver: HTTPServer,
    node: DevNode,
    documents: None,
    tmp_path: Path,
) -> None:
    httpserver.expect_request("/twitter").respond_with_json(tweets_answer("SN18 ships", "bullish"))
    httpserver.expect_request("/v1/chat/completions").respond_with_json(completion('{"score": 60}'))
    env = process_env(
        settings,
        DESEARCH_BASE_URL=httpserver.url_for("").rstrip("/"),
        DESEARCH_API_KEY=DESEARCH_KEY,
        CHUTES_BASE_URL=httpserver.url_for("/v1"),
        CHUTES_API_KEY=CHUTES_KEY,
        BITTENSOR_NETWORK=node.url,
        BITTENSOR_RUNTIME_CACHE_DIR=str(tmp_path / "runtime-cache"),
        TRADING_MODE="live",
        WALLET_MNEMONIC=node.key("funded").mnemonic,
        STAKE_DAILY_CAP_TAO=str(TRADES * 2),
        STREAM_CONCURRENCY="2",
        STREAM_READ_COUNT="1",
    )
    hops = [
        (HopName.TWEET_FETCHER, settings.stream_trade_requested, settings.group_tweet_fetcher),
        (HopName.SENTIMENT_SCORER, settings.stream_tweets_fetched, settings.group_sentiment_scorer),
        (HopName.STAKE_EXECUTOR, settings.stream_sentiment_scored, settings.group_stake_executor),
    ]
    names = [hop.value for hop, _, _ in hops for _ in range(REPLICAS)]
    async with consumer_processes(env, *names):
        db = int(redis.connection_pool.connection_kwargs.get("db", 0))

        async def all_reading() -> bool:
            return await readers(redis, db) == len(names)

        await eventually(all_reading, within=90)  # interpreters start, the SDK connects
        trade_ids = [f"replicas-{n}" for n in range(TRADES)]
        for trade_id in trade_ids:  # a trickle, as a gateway would write them
            await redis.xadd(settings.stream_trade_requested, entry(trade_requested(trade_id)))
            await asyncio.sleep(0.05)

        async def all_terminal() -> list[Trade] | None:
            trades = [await Trade.get(trade_id) for trade_id in trade_ids]
            done = [t for t in trades if t is not None and t.state in TERMINAL_STATES]
            return done if len(done) == TRADES else None

        trades = await eventually(all_terminal, within=120)
        records = await HopRecord.find({"trade_id": {"$in": trade_ids}}).to_list()
        claims = await StakeClaim.find({"_id": {"$in": trade_ids}}).to_list()

    not_executed = {t.id: t.state for t in trades if t.state != TradeState.EXECUTED}
    assert not_executed == {}, {t.id: (t.outcome or {}).get("error") for t in trades}
    # Each hop of each trade ran once, in one replica...
    assert len(records) == TRADES * len(hops)
    assert {r.attempts for r in records} == {1}
    assert len(claims) == TRADES
    # ...and both replicas of every hop took a share.
    for hop, _, _ in hops:
        share = Counter(r.consumer for r in records if r.hop == hop.value)
        assert len(share) == REPLICAS, f"{hop.value}: {share}"
    # One extrinsic per trade reached the chain, with nonce races between replicas resubmitted.
    assert len(node.accepted) == TRADES
    assert len({t.outcome["extrinsic_id"] for t in trades if t.outcome}) == TRADES
