"""The sentiment-scorer app.

Run: ``faststream run --factory consumers.sentiment_scorer.app:create_app``.
"""

from __future__ import annotations

from faststream import FastStream
from faststream.redis import RedisStreamMessage

from consumers.sentiment_scorer.service import sentiment_service
from shared.events import TweetsFetched
from shared.settings import Settings
from shared.streams.app import HopApp
from shared.streams.topology import HopName, topology


def create_app(settings: Settings | None = None) -> FastStream:
    settings = settings or Settings()
    hop = HopApp(
        settings,
        topology(settings)[HopName.SENTIMENT_SCORER],
        sentiment_service,
        description="Scores the sentiment of a trade's tweets with Chutes or a local model.",
    )

    @hop.subscriber
    async def score_sentiment(event: TweetsFetched, msg: RedisStreamMessage) -> None:
        """Tweets were fetched: score their sentiment, emit sentiment.scored."""
        await hop.handle(event, msg)

    return hop.app
