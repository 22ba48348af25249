"""Event contracts: what each stream carries. The documented interface for external producers.

Every event is a JSON object with a ``schema_version``, the ``trade_id`` it belongs to, and the
``trace_id`` of the request that started the trade, so one id follows a trade across every hop.
Unknown fields are refused: a producer's typo must fail loudly, not be silently dropped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.ss58 import validate_ss58

Hotkey = Annotated[str, AfterValidator(validate_ss58)]
NetUid = Annotated[int, Field(ge=0, le=65535)]


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    trade_id: Annotated[str, Field(min_length=1, max_length=64)]
    trace_id: Annotated[str, Field(min_length=1, max_length=64)]


class TradeRequested(Event):
    """A client asked for a sentiment-driven trade on one hotkey of one subnet."""

    netuid: NetUid
    hotkey: Hotkey
    requested_at: datetime = Field(default_factory=utc_now)


class Tweet(BaseModel):
    """The part of a tweet the pipeline keeps and records."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    url: str | None = None
    created_at: datetime | None = None
    username: str | None = None
    like_count: int = 0
    retweet_count: int = 0


class TweetsFetched(Event):
    """The tweets found about the trade's subnet (possibly none: that is a valid outcome)."""

    netuid: NetUid
    hotkey: Hotkey
    query: str
    tweets: list[Tweet]


class SentimentScored(Event):
    """The sentiment of the tweets, -100..100; ``score`` None means no score could be read."""

    netuid: NetUid
    hotkey: Hotkey
    score: Annotated[int, Field(ge=-100, le=100)] | None
    # Which scorer produced it, e.g. "chutes:unsloth/Llama-3.2-3B-Instruct" or "vader".
    scorer: str
    reason: str | None = None
    tweet_count: Annotated[int, Field(ge=0)]
