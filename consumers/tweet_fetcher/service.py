"""The tweet-fetcher hop: trade.requested -> the subnet's recent tweets -> tweets.fetched."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from consumers.tweet_fetcher.desearch import (
    DesearchClient,
    DesearchError,
    build_query,
    search_window,
)
from shared.events import TradeRequested, TweetsFetched, utc_now
from shared.settings import Settings
from shared.streams.hop import HopFailed, HopResult


class TweetFetcher:
    def __init__(self, client: DesearchClient | None, settings: Settings) -> None:
        self._client = client
        self._settings = settings

    async def run(self, event: TradeRequested) -> HopResult[TweetsFetched]:
        if self._client is None:
            raise HopFailed("no DESEARCH_API_KEY is configured: tweets cannot be fetched")
        settings = self._settings
        query = build_query(settings.desearch_query_template, event.netuid)
        start, end = search_window(utc_now(), settings.desearch_window_days)
        try:
            tweets = await self._client.search(
                query,
                start_date=start,
                end_date=end,
                lang=settings.desearch_lang,
                count=settings.desearch_count,
            )
        except DesearchError as error:
            if error.retryable:
                raise
            raise HopFailed(f"Desearch refused the search: {error}") from error
        summary = {
            "query": query,
            "tweet_count": len(tweets),
            "tweets": [{"id": tweet.id, "text": tweet.text[:280]} for tweet in tweets],
        }
        return HopResult(TweetsFetched(**event.lineage(), query=query, tweets=tweets), summary)


@contextlib.asynccontextmanager
async def tweet_fetcher(settings: Settings) -> AsyncIterator[TweetFetcher]:
    client = DesearchClient.from_settings(settings) if settings.desearch_api_key else None
    try:
        yield TweetFetcher(client, settings)
    finally:
        if client is not None:
            await client.aclose()
