"""The trade ledger: every hop's start, finish or failure, written to MongoDB as it happens.

Writes are single atomic updates keyed by ``_id`` (the trade id, or trade id and hop), so a
redelivered entry updates the same record (its attempt count grows) instead of adding another.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from shared.documents import HopRecord, HopState, Trade, TradeState
from shared.events import Event, utc_now


async def trade_in_progress(event: Event, *, requested_at: datetime | None) -> None:
    """Show the trade in progress, creating its record for an event written to the stream.

    A read and at most one write, both by ``_id``. The state moves only from ``requested``, so a
    redelivered hop never reopens a trade that has ended. (Between the read and the write only
    the gateway could end the trade, when a publish it saw fail did reach the stream; the trade
    is then indeed in progress.)
    """
    trades = Trade.get_pymongo_collection()
    found = await trades.find_one({"_id": event.trade_id}, {"state": 1})
    if found is None:
        record = Trade(
            id=event.trade_id,
            trace_id=event.trace_id,
            netuid=event.netuid,
            hotkey=event.hotkey,
            requested_by="stream",
            requested_at=requested_at or utc_now(),
            state=TradeState.IN_PROGRESS,
        )
        try:
            await record.insert()
        except DuplicateKeyError:  # created meanwhile by the gateway or another replica
            found = await trades.find_one({"_id": event.trade_id}, {"state": 1})
        else:
            return
    if found is not None and found["state"] == TradeState.REQUESTED.value:
        await trades.update_one(
            {"_id": event.trade_id},
            {"$set": {"state": TradeState.IN_PROGRESS.value, "updated_at": utc_now()}},
        )


async def hop_started(trade_id: str, hop: str, *, entry_id: str, consumer: str) -> HopRecord:
    """Count one more attempt of ``hop`` for ``trade_id`` and return its record."""
    raw = await HopRecord.get_pymongo_collection().find_one_and_update(
        {"_id": HopRecord.key(trade_id, hop)},
        {
            "$inc": {"attempts": 1},
            "$set": {"entry_id": entry_id, "consumer": consumer},
            "$setOnInsert": {
                "trade_id": trade_id,
                "hop": hop,
                "state": HopState.STARTED.value,
                "started_at": utc_now(),
                "summary": {},
            },
        },
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    record: HopRecord = HopRecord.model_validate(raw)
    return record


async def hop_finished(
    record: HopRecord,
    *,
    summary: dict[str, Any],
    output: dict[str, Any],
    duration_ms: float,
    trade_state: TradeState | None,
) -> None:
    await HopRecord.get_pymongo_collection().update_one(
        {"_id": record.id},
        {
            "$set": {
                "state": HopState.FINISHED.value,
                "finished_at": utc_now(),
                "duration_ms": duration_ms,
                "summary": summary,
                "output": output,
                "trade_state": trade_state.value if trade_state else None,
                "error": None,
            }
        },
    )


async def hop_failed(record: HopRecord, *, error: str, final: bool, duration_ms: float) -> None:
    """Record a failed attempt; ``final`` when the hop will not be tried again."""
    update: dict[str, Any] = {"error": error, "duration_ms": duration_ms}
    if final:
        update |= {"state": HopState.FAILED.value, "finished_at": utc_now()}
    await HopRecord.get_pymongo_collection().update_one({"_id": record.id}, {"$set": update})
    if final:
        await finish_trade(record.trade_id, TradeState.FAILED, error=error)


async def hop_dead_lettered(record: HopRecord, *, error: str) -> None:
    """The hop gave up after its attempts; the entry waits in the dead-letter stream."""
    await HopRecord.get_pymongo_collection().update_one(
        {"_id": record.id},
        {"$set": {"state": HopState.DEAD_LETTERED.value, "error": error, "finished_at": utc_now()}},
    )
    await finish_trade(record.trade_id, TradeState.DEAD_LETTERED, error=error)


async def finish_trade(
    trade_id: str,
    state: TradeState,
    *,
    error: str | None = None,
    outcome: dict[str, Any] | None = None,
) -> None:
    await Trade.get_pymongo_collection().update_one(
        {"_id": trade_id},
        {
            "$set": {
                "state": state.value,
                "error": error,
                "outcome": outcome,
                "updated_at": utc_now(),
            }
        },
    )
