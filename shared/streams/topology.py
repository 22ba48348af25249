"""The pipeline's topology in one place: which stream each hop reads, in which group, with which
event model, and what it emits. Stream and group names come from settings; nowhere else names
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.events import (
    Event,
    SentimentScored,
    StakeExecuted,
    TradeRequested,
    TweetsFetched,
)
from shared.settings import Settings


class HopName(StrEnum):
    TWEET_FETCHER = "tweet-fetcher"
    SENTIMENT_SCORER = "sentiment-scorer"
    STAKE_EXECUTOR = "stake-executor"


@dataclass(frozen=True, slots=True)
class Hop:
    name: HopName
    stream: str
    group: str
    event: type[Event]
    output_stream: str
    output_event: type[Event]

    @property
    def dead_letter_stream(self) -> str:
        return f"{self.stream}.dlq"


def topology(settings: Settings) -> dict[HopName, Hop]:
    """trade.requested -> tweet-fetcher -> tweets.fetched -> sentiment-scorer ->
    sentiment.scored -> stake-executor -> stake.executed."""
    return {
        HopName.TWEET_FETCHER: Hop(
            HopName.TWEET_FETCHER,
            settings.stream_trade_requested,
            settings.group_tweet_fetcher,
            TradeRequested,
            settings.stream_tweets_fetched,
            TweetsFetched,
        ),
        HopName.SENTIMENT_SCORER: Hop(
            HopName.SENTIMENT_SCORER,
            settings.stream_tweets_fetched,
            settings.group_sentiment_scorer,
            TweetsFetched,
            settings.stream_sentiment_scored,
            SentimentScored,
        ),
        HopName.STAKE_EXECUTOR: Hop(
            HopName.STAKE_EXECUTOR,
            settings.stream_sentiment_scored,
            settings.group_stake_executor,
            SentimentScored,
            settings.stream_stake_executed,
            StakeExecuted,
        ),
    }
