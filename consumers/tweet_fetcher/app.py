"""The tweet-fetcher app: ``faststream run --factory consumers.tweet_fetcher.app:create_app``."""

from __future__ import annotations

from faststream import FastStream
from faststream.redis import RedisStreamMessage

from consumers.tweet_fetcher.service import tweet_fetcher
from shared.events import TradeRequested
from shared.settings import Settings
from shared.streams.app import HopApp
from shared.streams.topology import HopName, topology


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    hop = HopApp(
        settings,
        topology(settings)[HopName.TWEET_FETCHER],
        tweet_fetcher,
        description="Fetches recent tweets about a trade's subnet from Desearch.",
    )

    @hop.subscriber
    async def fetch_tweets(event: TradeRequested, msg: RedisStreamMessage) -> None:
        """A trade was requested: search tweets about its subnet, emit tweets.fetched."""
        await hop.handle(event, msg)

    return hop.app
