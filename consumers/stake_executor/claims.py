"""Claims: at most one stake decision, and at most one extrinsic, per trade.

A claim is inserted before anything is planned or submitted; its unique trade id makes a
duplicate delivery, or a second replica, find the first one's claim instead of acting again.
"""

from __future__ import annotations

from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.documents import ClaimState, StakeClaim
from shared.events import utc_now


async def claim(trade_id: str, consumer: str) -> StakeClaim | None:
    """Claim ``trade_id``; None when claimed now, else the claim that already exists."""
    try:
        await StakeClaim(trade_id=trade_id, consumer=consumer).insert()
    except DuplicateKeyError:
        existing = await StakeClaim.find_one(StakeClaim.trade_id == trade_id)
        if existing is None:  # deleted in between: only by hand; refuse to guess
            raise
        return existing
    return None


async def mark(trade_id: str, state: ClaimState, outcome: dict[str, Any] | None = None) -> None:
    await StakeClaim.get_pymongo_collection().update_one(
        {"trade_id": trade_id},
        {"$set": {"state": state.value, "outcome": outcome, "updated_at": utc_now()}},
    )
