"""The trade ledger: every hop's start, finish or failure, written to MongoDB as it happens.

Every record is keyed by ``_id`` (the trade id, or trade id and hop). Two ways to write them:

- In bulk, for the entries of a batch read on their first delivery (the common case): the
  trades a hop sees are created in one ``insert_many``, and the hops that finished are inserted
  finished, in one more. Inserts, because on FerretDB (CI's server) one bulk insert of a batch
  costs less than one single-document update (see README, "The local MongoDB-compatible
  server"); the unique ``_id`` turns a record that already exists into a duplicate-key error for
  that document alone, which the runner resolves through the single-document path.
- One document at a time, with atomic updates, for redeliveries and failures: a redelivered
  entry updates the same record (its attempt count grows) instead of adding another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from beanie import Document
from beanie.odm.utils.dump import get_dict
from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.documents import HopRecord, HopState, Trade, TradeState
from shared.events import Event, TradeRequested, utc_now

DUPLICATE_KEY = 11000


async def trades_in_progress(events: Sequence[Event]) -> None:
    """Create, in one bulk insert, the records of the trades that have none (their events were
    written straight to a stream), in progress.

    A trade that has a record is left as it is, except by the first hop (``trade.requested``):
    there a trade the gateway admitted moves from ``requested`` to in progress, as
    ``trade_in_progress`` does. A later hop only ever sees trades the first one already moved
    (or created), so it writes nothing more.
    """
    records = [
        Trade(
            id=event.trade_id,
            trace_id=event.trace_id,
            netuid=event.netuid,
            hotkey=event.hotkey,
            requested_by="stream",
            requested_at=event.requested_at if isinstance(event, TradeRequested) else utc_now(),
            state=TradeState.IN_PROGRESS,
        )
        for event in events
    ]
    existing = await insert_new(Trade, records)
    for index in existing:
        event = events[index]
        if isinstance(event, TradeRequested):
            await trade_in_progress(event, requested_at=event.requested_at)


async def hops_finished(records: Sequence[HopRecord]) -> list[int]:
    """Insert finished hop records in one bulk insert; the indices of those that already had a
    record (a duplicate entry, or an earlier delivery), which are left as they were."""
    return await insert_new(HopRecord, records)


class Inserts:
    """Single-document inserts into one collection, issued at the same moment by concurrent
    tasks (the entries of one batch), sent together as one bulk insert.

    For code that inserts one document per entry in the middle of its work, such as the
    stake-executor's claims: each caller still learns whether its own document was inserted or
    already existed, as it would from ``insert_one``.
    """

    def __init__(self, document: type[Document]) -> None:
        self._document = document
        self._pending: dict[asyncio.AbstractEventLoop, list[_Pending]] = {}
        self._sending: set[asyncio.Task[None]] = set()  # held: the loop keeps tasks weakly

    async def insert(self, record: Document) -> bool:
        """Insert ``record``; False when a document with its ``_id`` already exists."""
        loop = asyncio.get_running_loop()
        inserted: asyncio.Future[bool] = loop.create_future()
        pending = self._pending.setdefault(loop, [])
        pending.append((record, inserted))
        if len(pending) == 1:  # the first of this moment sends them all, once the others ran
            loop.call_soon(self._start_sending, loop)
        return await inserted

    def _start_sending(self, loop: asyncio.AbstractEventLoop) -> None:
        task = loop.create_task(self._send(loop))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, [])
        try:
            existing = set(await insert_new(self._document, [record for record, _ in batch]))
        except Exception as error:
            for _, inserted in batch:
                if not inserted.done():
                    inserted.set_exception(error)
            return
        for index, (_, inserted) in enumerate(batch):
            if not inserted.done():
                inserted.set_result(index not in existing)


_Pending = tuple[Document, "asyncio.Future[bool]"]


async def insert_new(document: type[Document], records: Sequence[Document]) -> list[int]:
    """Insert ``records`` unordered; the indices of those whose ``_id`` already existed."""
    if not records:
        return []
    collection: AsyncCollection[dict[str, Any]] = document.get_pymongo_collection()
    try:
        await collection.insert_many([get_dict(r, to_db=True) for r in records], ordered=False)
    except BulkWriteError as error:
        errors = error.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return sorted(e["index"] for e in errors)
    return []


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
