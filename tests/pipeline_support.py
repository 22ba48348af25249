"""Run the three consumers in-process against real Redis and MongoDB, with HTTP fakes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from faststream import FastStream
from pytest_httpserver import HTTPServer
from redis.typing import EncodableT, FieldT

from consumers.sentiment_scorer.app import create_app as sentiment_scorer
from consumers.stake_executor.app import create_app as stake_executor
from consumers.tweet_fetcher.app import create_app as tweet_fetcher
from offline.substrate import FakeSubstrate, client_factory
from shared.documents import TERMINAL_STATES, HopRecord, HopState, Trade
from shared.events import Event, SentimentScored, TradeRequested, Tweet, TweetsFetched
from shared.settings import Settings
from tests.conftest import HOTKEY
from tests.waiting import eventually

DESEARCH_KEY = "test-desearch-key-0123456789"
CHUTES_KEY = "test-chutes-key-0123456789"


def pipeline_settings(settings: Settings, httpserver: HTTPServer, **changes: Any) -> Settings:
    """``settings`` with Desearch and Chutes served by ``httpserver`` on 127.0.0.1."""
    return Settings(
        **{
            **settings.model_dump(),
            "desearch_base_url": httpserver.url_for("").rstrip("/"),
            "desearch_api_key": DESEARCH_KEY,
            "desearch_backoff_seconds": 0,
            "chutes_base_url": httpserver.url_for("/v1"),
            "chutes_api_key": CHUTES_KEY,
            "chutes_backoff_seconds": 0,
            **changes,
        },
        _env_file=None,
    )


# Fast reclaim for tests that make consumers fail or crash (seconds).
FAST_RECLAIM: dict[str, Any] = {
    "stream_reclaim_idle_seconds": 0.3,
    "stream_reclaim_interval_seconds": 0.1,
}


def entry(event: Event) -> dict[FieldT, EncodableT]:
    """A stream entry as an external producer writes it: the event's JSON in ``__data__``."""
    return {"__data__": event.model_dump_json().encode()}


def dead_letter(
    event: Event, *, error: str = "boom", attempts: int = 5, consumer: str = "c-1"
) -> dict[FieldT, EncodableT]:
    """A dead letter as a hop that gave up after ``attempts`` writes it (``shared.streams``)."""
    return {
        "entry_id": "1-1",
        "consumer": consumer,
        "attempts": attempts,
        "error": error,
        "data": event.model_dump_json().encode(),
    }


def trade_requested(trade_id: str) -> TradeRequested:
    return TradeRequested(trade_id=trade_id, trace_id=f"trace-{trade_id}", netuid=18, hotkey=HOTKEY)


def tweets_fetched(trade_id: str, *texts: str) -> TweetsFetched:
    tweets = [Tweet(id=str(i), text=text) for i, text in enumerate(texts or ("SN18",))]
    return TweetsFetched(**trade_requested(trade_id).lineage(), query="q", tweets=tweets)


def sentiment_scored(trade_id: str, score: int | None) -> SentimentScored:
    lineage = trade_requested(trade_id).lineage()
    return SentimentScored(**lineage, score=score, scorer="vader", tweet_count=2)


@contextlib.asynccontextmanager
async def running(app: FastStream) -> AsyncIterator[None]:
    async with app.lifespan_context(), app:
        yield


@contextlib.asynccontextmanager
async def running_pipeline(settings: Settings, substrate: FakeSubstrate) -> AsyncIterator[None]:
    """The tweet-fetcher, sentiment-scorer and stake-executor, each in its own app."""
    async with (
        running(tweet_fetcher(settings)),
        running(sentiment_scorer(settings)),
        running(stake_executor(settings, chain_factory=client_factory(substrate))),
    ):
        yield


def process_env(settings: Settings, **variables: str) -> dict[str, str]:
    """The environment of a consumer process on the test's Redis and MongoDB, plus ``variables``."""
    return {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "MONGODB_URL": settings.mongodb_url,
        "MONGODB_DATABASE": settings.mongodb_database,
        "METRICS_PORT": "0",
        "LOG_LEVEL": "WARNING",
        **variables,
    }


@contextlib.asynccontextmanager
async def consumer_processes(
    env: dict[str, str], *names: str
) -> AsyncIterator[list[asyncio.subprocess.Process]]:
    """``python -m consumers <name>`` for each of ``names``, as production runs them; killed
    on the way out if still running."""
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-m", "consumers", name, env=env)
        for name in names
    ]
    try:
        yield processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def wait_for_terminal(trade_id: str, within: float = 15.0) -> Trade:
    """The trade's record once it reached a terminal state."""

    async def terminal() -> Trade | None:
        trade = await Trade.get(trade_id)
        return trade if trade is not None and trade.state in TERMINAL_STATES else None

    return await eventually(terminal, within=within)


async def wait_for_hop(trade_id: str, within: float = 15.0) -> HopRecord:
    """The trade's (only) hop record once it finished: for a consumer running alone."""

    async def finished() -> HopRecord | None:
        record = await HopRecord.find_one(HopRecord.trade_id == trade_id)
        return record if record is not None and record.state is HopState.FINISHED else None

    return await eventually(finished, within=within)
