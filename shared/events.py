"""Event contracts: what each stream carries. The documented interface for external producers.

Every event is a JSON object with a ``schema_version``, the ``trade_id`` it belongs to, and the
``trace_id`` of the request that started the trade, so one id follows a trade across every hop.
Unknown fields are refused: a producer's typo must fail loudly, not be silently dropped.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from shared.ss58 import (
    SS58_DESCRIPTION,
    SS58_EXAMPLE,
    SS58_LENGTH,
    SS58_PATTERN,
    validate_ss58,
)

# The schema states what the validator checks but the checksum, which no JSON Schema keyword
# can; "format": "ss58" names the rule for generators that know it (bench/fuzz_hooks.py).
Hotkey = Annotated[
    str,
    Field(
        min_length=SS58_LENGTH,
        max_length=SS58_LENGTH,
        pattern=SS58_PATTERN,
        description=SS58_DESCRIPTION,
        examples=[SS58_EXAMPLE],
        json_schema_extra={"format": "ss58"},
    ),
    AfterValidator(validate_ss58),
]
NetUid = Annotated[int, Field(ge=0, le=65535)]
TradeId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]


def new_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    trade_id: TradeId
    trace_id: Annotated[str, Field(min_length=1, max_length=64)]
    netuid: NetUid
    hotkey: Hotkey

    def lineage(self) -> dict[str, Any]:
        """The fields the next hop's event carries over unchanged."""
        return {
            "trade_id": self.trade_id,
            "trace_id": self.trace_id,
            "netuid": self.netuid,
            "hotkey": self.hotkey,
        }


class TradeRequested(Event):
    """A client asked for a sentiment-driven trade on one hotkey of one subnet."""

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

    query: str
    tweets: list[Tweet]


class SentimentScored(Event):
    """The sentiment of the tweets, -100..100; ``score`` None means no score could be read."""

    score: Annotated[int, Field(ge=-100, le=100)] | None
    # Which scorer produced it, e.g. "chutes:unsloth/Llama-3.2-3B-Instruct" or "vader".
    scorer: str
    reason: str | None = None
    tweet_count: Annotated[int, Field(ge=0)]


class StakeAction(StrEnum):
    ADD = "add_stake"
    REMOVE = "remove_stake"
    SKIP = "skip"


class SkipReason(StrEnum):
    """Why a trade ended without a stake: the policy said no (kill switch, no score, neutral),
    the day's budget is spent, or the chain, read before anything is submitted, shows that the
    trade cannot succeed (so no fee is paid for it)."""

    KILL_SWITCH = "kill_switch"
    NO_SCORE = "no_score"
    NEUTRAL = "neutral"
    DAILY_CAP = "daily_cap"
    # remove_stake: the coldkey holds no alpha on (hotkey, netuid).
    NO_POSITION = "no_position"
    # add_stake: the coldkey's free balance does not cover the amount plus the estimated fee.
    INSUFFICIENT_BALANCE = "insufficient_balance"


class StakeExecuted(Event):
    """What the stake-executor decided and what happened: the last hop of a trade."""

    action: StakeAction
    mode: Literal["paper", "live"]
    reason: str
    score: int | None
    # Set when the trade ends skipped (action skip, or an add or remove the chain cannot take).
    skip_reason: SkipReason | None = None
    # The amount decided, in TAO; for remove_stake also the alpha (rao) unstaked: the alpha the
    # amount converts to, or the whole position when that is smaller (then
    # capped_from_alpha_rao is the alpha the amount converted to).
    amount_tao: Decimal | None = None
    amount_alpha_rao: int | None = None
    capped_from_alpha_rao: int | None = None
    # Read from the chain before acting (rao): the coldkey's alpha on (hotkey, netuid) before a
    # remove_stake, its free TAO before an add_stake.
    position_alpha_rao: int | None = None
    free_rao: int | None = None
    submitted: bool = False
    success: bool | None = None
    block_hash: str | None = None
    extrinsic_id: str | None = None
    # The fee charged when submitted; otherwise the plan's estimate (nothing was paid).
    fee_rao: int | None = None
    error: str | None = None
