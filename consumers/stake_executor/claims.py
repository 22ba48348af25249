"""Claims: at most one stake decision, and at most one extrinsic, per trade.

A claim is inserted before anything is planned or submitted; its ``_id``, the trade id, makes a
duplicate delivery, or a second replica, find the first one's claim instead of acting again.
What the finder does depends on the claim's state:

- ``done``: the outcome of a submission is recorded; it is replayed, nothing is redone. (A
  claim that was never marked submitting, in paper mode or for a skipped trade, stays
  ``claimed``: the hop's record holds its outcome, and a redelivery that finds that record
  re-emits it before any claim is looked at, see ``shared.streams.hop``.)
- ``submitting``: an extrinsic may be on its way or on chain with its outcome unknown. Never
  submitted again blind: ``OutcomeUnknown``, for a human to reconcile.
- ``claimed`` and recent: another consumer is deciding right now: ``ClaimHeld`` (transient; the
  entry stays pending and is looked at again later).
- ``claimed`` and older than ``stale_after``: its holder died before submitting anything, so the
  claim is taken over, atomically, by exactly one finder.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.documents import ClaimState, StakeClaim
from shared.events import utc_now
from shared.records import Inserts

_CLAIMS = Inserts(StakeClaim)


class ClaimHeld(Exception):
    """Another consumer is working on this trade's stake right now."""


class OutcomeUnknown(Exception):
    """A submission for this trade may have reached the chain; its outcome was never recorded."""


async def acquire(trade_id: str, consumer: str, *, stale_after: float) -> StakeClaim | None:
    """Hold ``trade_id``'s claim: None when this consumer now holds it, else the done claim.

    The claims of a batch's trades are inserted together (``shared.records.Inserts``).
    """
    if await _CLAIMS.insert(StakeClaim(id=trade_id, consumer=consumer)):
        return None
    existing = await StakeClaim.get(trade_id)
    if existing is None:  # deleted in between: only by hand; refuse to guess
        raise ClaimHeld(f"the claim of trade {trade_id} vanished")
    if existing.state is ClaimState.DONE:
        return existing
    if existing.state is ClaimState.SUBMITTING:
        raise OutcomeUnknown(
            "an earlier attempt may have submitted an extrinsic whose outcome was not recorded; "
            "not submitting again: reconcile this trade on chain"
        )
    if existing.updated_at > utc_now() - timedelta(seconds=stale_after):
        raise ClaimHeld(f"trade {trade_id} is being staked by {existing.consumer}")
    taken = await StakeClaim.get_pymongo_collection().update_one(
        {
            "_id": trade_id,
            "state": ClaimState.CLAIMED.value,
            "updated_at": existing.updated_at,
        },
        {"$set": {"consumer": consumer, "updated_at": utc_now()}},
    )
    if taken.modified_count != 1:
        raise ClaimHeld(f"trade {trade_id} was taken over by another consumer")
    return None


async def mark(trade_id: str, state: ClaimState, outcome: dict[str, Any] | None = None) -> None:
    await StakeClaim.get_pymongo_collection().update_one(
        {"_id": trade_id},
        {"$set": {"state": state.value, "outcome": outcome, "updated_at": utc_now()}},
    )
