"""The trading policy in one place: whether to trade, which way, and how much.

Pure functions of the score, the settings and the kill switch's state, so every rule is testable
without a chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.events import SkipReason, StakeAction
from shared.killswitch import SwitchState
from shared.settings import AmountMode, Settings


@dataclass(frozen=True, slots=True)
class Decision:
    action: StakeAction
    amount_tao: Decimal | None
    reason: str
    skip: SkipReason | None = None


def decide(settings: Settings, score: int | None, kill_switch: SwitchState) -> Decision:
    """Positive sentiment adds stake, negative removes it, neutral or unknown does nothing."""
    if kill_switch.engaged:
        return Decision(
            StakeAction.SKIP,
            None,
            f"refused: the trading kill switch is {kill_switch.describe()}",
            SkipReason.KILL_SWITCH,
        )
    if score is None:
        return Decision(StakeAction.SKIP, None, "no sentiment score: no trade", SkipReason.NO_SCORE)
    if abs(score) < settings.stake_neutral_threshold:
        return Decision(
            StakeAction.SKIP,
            None,
            f"neutral sentiment: |{score}| < {settings.stake_neutral_threshold}",
            SkipReason.NEUTRAL,
        )
    amount = (
        settings.stake_fixed_tao
        if settings.stake_amount_mode is AmountMode.FIXED
        else settings.stake_tao_per_point * abs(score)
    )
    capped = min(amount, settings.stake_max_tao_per_trade)
    action = StakeAction.ADD if score > 0 else StakeAction.REMOVE
    reason = f"sentiment {score:+d}: {action.value} of {capped} TAO"
    if capped < amount:
        reason += f" (cut from {amount} by STAKE_MAX_TAO_PER_TRADE)"
    return Decision(action, capped, reason)
