"""The sentiment-scorer hop.

tweets.fetched -> a score in -100..100, or none -> sentiment.scored.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from consumers.sentiment_scorer.scorers import ChutesError, Scorer, scorer_from_settings
from shared.events import SentimentScored, TweetsFetched
from shared.settings import Settings
from shared.streams.hop import HopFailed, HopResult


class SentimentService:
    def __init__(self, scorer: Scorer) -> None:
        self._scorer = scorer

    async def run(self, event: TweetsFetched) -> HopResult[SentimentScored]:
        try:
            result = await self._scorer.score(event.tweets)
        except ChutesError as error:
            if error.retryable:
                raise
            raise HopFailed(f"Chutes refused the request: {error}") from error
        scored = SentimentScored(
            **event.lineage(),
            score=result.score,
            scorer=result.scorer,
            reason=result.reason,
            tweet_count=len(event.tweets),
        )
        summary = {"score": result.score, "scorer": result.scorer, "reason": result.reason}
        return HopResult(scored, summary)


@contextlib.asynccontextmanager
async def sentiment_service(settings: Settings) -> AsyncIterator[SentimentService]:
    scorer = scorer_from_settings(settings)
    try:
        yield SentimentService(scorer)
    finally:
        await scorer.aclose()
