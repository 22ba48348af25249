"""The console's plain words: amounts, durations, ids and what each hop did."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.console import words
from shared.documents import HopRecord, TradeState


def hop(name: str, summary: dict[str, Any], output: dict[str, Any] | None = None) -> HopRecord:
    """A hop record as read from MongoDB (constructed, not inserted)."""
    record: HopRecord = HopRecord.model_construct(hop=name, summary=summary, output=output)
    return record


@pytest.mark.parametrize(
    ("rao", "text"),
    [(125_000, "0.000125 TAO"), (1_000_000_000, "1 TAO"), (2_500_000_000, "2.5 TAO"), (None, "—")],
)
def test_rao_read_as_whole_units(rao: int | None, text: str) -> None:
    assert words.units(rao, "TAO") == text


def test_tao_amounts_drop_trailing_zeros() -> None:
    assert words.tao("1.500") == "1.5 TAO"
    assert words.tao(Decimal("10")) == "10 TAO"
    assert words.tao(None) == "—"


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0.4, "<1 ms"), (350, "350 ms"), (1234, "1.2 s"), (125_000, "2 min 5 s"), (None, "—")],
)
def test_durations_are_read_in_the_unit_that_fits(ms: float | None, text: str) -> None:
    assert words.duration(ms) == text


def test_long_ids_keep_their_start_and_end() -> None:
    assert words.short("5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v") == "5FFApa…Cfe52v"
    assert words.short("abc") == "abc"


def test_attempts_count_the_retries() -> None:
    assert [words.attempts(n) for n in (1, 2, 3)] == [
        "1 attempt",
        "2 attempts (1 retry)",
        "3 attempts (2 retries)",
    ]


def test_every_state_reads_with_a_mark_and_a_word() -> None:
    """Readable without colour: each state starts with a mark, then says its name."""
    for state in TradeState:
        mark, text = words.trade_state(state).split(" ", 1)
        assert not mark.isalnum()
        assert text.replace(" ", "_").replace("-", "_") == state.value
    assert words.hop_state(None) == "○ waiting"


def test_times_are_utc_to_the_second() -> None:
    assert words.when(datetime(2025, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2025-01-02 03:04:05 UTC"


def test_an_outcome_in_one_line() -> None:
    staked = {"action": "add_stake", "amount_tao": "1", "mode": "paper", "success": True}
    failed = {
        "action": "remove_stake",
        "amount_tao": "0.5",
        "mode": "live",
        "success": False,
        "error": "SlippageTooHigh",
    }
    skipped = {"action": "skip", "reason": "neutral sentiment: |3| < 10"}
    assert words.outcome(staked) == "add stake 1 TAO (paper)"
    assert words.outcome(failed) == "remove stake 0.5 TAO (live), failed: SlippageTooHigh"
    assert words.outcome(skipped) == "no trade: neutral sentiment: |3| < 10"
    assert words.outcome(None) == "—"


def test_the_tweet_fetcher_says_how_many_tweets_it_found_for_what() -> None:
    lines = words.hop_lines(
        hop("tweet-fetcher", {"query": "Bittensor netuid 18", "tweet_count": 1})
    )
    assert lines == ["Found 1 tweet for “Bittensor netuid 18”."]


def test_the_scorer_says_the_score_the_scorer_and_how_many_tweets() -> None:
    scored = hop("sentiment-scorer", {"score": -40, "scorer": "vader"}, {"tweet_count": 5})
    unreadable = hop("sentiment-scorer", {"score": None, "scorer": "chutes:m", "reason": "prose"})
    assert words.hop_lines(scored) == ["Scored -40 on -100..100 from 5 tweets by vader."]
    assert words.hop_lines(unreadable) == [
        "No score could be read by chutes:m: no trade follows.",
        "Scorer's note: prose",
    ]


def test_a_live_stake_names_amounts_fee_extrinsic_and_block() -> None:
    summary = {
        "action": "remove_stake",
        "mode": "live",
        "reason": "sentiment -60",
        "amount_tao": "1",
        "amount_alpha_rao": 500_000_000,
        "submitted": True,
        "success": True,
        "block_hash": "0xabcdef0123456789",
        "extrinsic_id": "12-1",
        "fee_rao": 125_000,
        "error": None,
    }
    assert words.hop_lines(hop("stake-executor", summary)) == [
        "Remove stake of 1 TAO (0.5 alpha), live mode.",
        "Submitted on chain: it succeeded.",
        "Fee: 0.000125 TAO.",
        "Extrinsic 12-1 in block #12 (0xabcd…456789).",
        "Why: sentiment -60.",
    ]


def test_a_paper_stake_says_nothing_was_submitted() -> None:
    summary = {
        "action": "add_stake",
        "mode": "paper",
        "reason": "sentiment +80",
        "amount_tao": "1",
        "submitted": False,
        "success": False,
        "fee_rao": None,
        "error": "balance too low",
    }
    assert words.hop_lines(hop("stake-executor", summary)) == [
        "Add stake of 1 TAO, paper mode.",
        "Planned only (paper): nothing was submitted; the plan was refused (balance too low).",
        "Fee: —.",
        "Why: sentiment +80.",
    ]


def test_a_skip_says_why() -> None:
    summary = {"action": "skip", "reason": "refused: the trading kill switch is engaged"}
    assert words.hop_lines(hop("stake-executor", summary)) == [
        "No trade: refused: the trading kill switch is engaged."
    ]
