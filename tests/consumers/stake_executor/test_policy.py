"""The trading policy: direction, amount, threshold, caps and the kill switch."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from consumers.stake_executor.policy import decide
from shared.events import SkipReason, StakeAction
from shared.killswitch import STARTUP_DEFAULT, SwitchState
from shared.settings import Settings

RELEASED = SwitchState(engaged=False, by=STARTUP_DEFAULT, at=None)


def policy(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


@pytest.mark.parametrize(
    ("score", "action"),
    [
        (80, StakeAction.ADD),
        (-80, StakeAction.REMOVE),
        (10, StakeAction.ADD),
        (-10, StakeAction.REMOVE),
    ],
)
def test_the_sign_of_the_score_chooses_add_or_remove(score: int, action: StakeAction) -> None:
    """Positive sentiment adds stake, negative removes it, at the fixed default of 1 TAO."""
    decision = decide(policy(), score, RELEASED)
    assert (decision.action, decision.skip) == (action, None)
    assert decision.amount_tao == Decimal("1")


@pytest.mark.parametrize("score", [0, 9, -9])
def test_scores_under_the_neutral_threshold_are_skipped(score: int) -> None:
    """|score| below STAKE_NEUTRAL_THRESHOLD (10) is neutral: no trade."""
    decision = decide(policy(), score, RELEASED)
    assert (decision.action, decision.skip) == (StakeAction.SKIP, SkipReason.NEUTRAL)
    assert "neutral" in decision.reason


def test_no_score_is_no_trade_never_a_zero() -> None:
    """A missing score skips the trade with that reason."""
    decision = decide(policy(), None, RELEASED)
    assert (decision.action, decision.amount_tao) == (StakeAction.SKIP, None)
    assert decision.skip is SkipReason.NO_SCORE
    assert decision.reason == "no sentiment score: no trade"


def test_proportional_amounts_are_a_hundredth_of_a_tao_per_point() -> None:
    """STAKE_AMOUNT_MODE=proportional: 0.01 TAO x |score|."""
    settings = policy(stake_amount_mode="proportional", stake_max_tao_per_trade=5)
    assert decide(settings, 40, RELEASED).amount_tao == Decimal("0.40")
    assert decide(settings, -75, RELEASED).amount_tao == Decimal("0.75")


def test_amounts_are_cut_to_the_per_trade_cap() -> None:
    """An amount above STAKE_MAX_TAO_PER_TRADE is reduced to it, and the reason says so."""
    settings = policy(stake_fixed_tao=3, stake_max_tao_per_trade=2)
    decision = decide(settings, 50, RELEASED)
    assert decision.amount_tao == Decimal("2")
    assert "STAKE_MAX_TAO_PER_TRADE" in decision.reason


def test_the_kill_switch_overrides_everything() -> None:
    """An engaged kill switch refuses every trade, whatever the score, and says who engaged it."""
    engaged = SwitchState(engaged=True, by="ops-admin", at=datetime(2025, 1, 2, 10, 0, tzinfo=UTC))
    decision = decide(policy(), 100, engaged)
    assert (decision.action, decision.amount_tao) == (StakeAction.SKIP, None)
    assert decision.skip is SkipReason.KILL_SWITCH
    assert decision.reason == (
        "refused: the trading kill switch is engaged by ops-admin at 2025-01-02 10:00:00 UTC"
    )


def test_the_kill_switch_engaged_at_startup_names_the_setting() -> None:
    """Engaged by TRADING_KILL_SWITCH=true, the refusal names that setting."""
    engaged = SwitchState(engaged=True, by=STARTUP_DEFAULT, at=None)
    decision = decide(policy(), -100, engaged)
    assert (decision.action, decision.skip) == (StakeAction.SKIP, SkipReason.KILL_SWITCH)
    assert "TRADING_KILL_SWITCH=true" in decision.reason


def test_live_trading_without_a_mnemonic_is_refused_at_start() -> None:
    """TRADING_MODE=live needs WALLET_MNEMONIC: the process does not start without one."""
    with pytest.raises(ValueError, match="WALLET_MNEMONIC"):
        policy(trading_mode="live")


def test_a_per_trade_cap_above_the_daily_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="STAKE_DAILY_CAP_TAO"):
        policy(stake_max_tao_per_trade=20, stake_daily_cap_tao=10)
