"""Beanie documents: the durable record of every trade, and the database lifecycle.

Beanie 2 runs on PyMongo's native async client (``AsyncMongoClient``). Motor is past end of life
and Beanie 2 refuses Motor database objects, so there is no Motor anywhere in this project.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import pymongo
from beanie import Document, init_beanie
from beanie.odm.fields import IndexModelField
from pydantic import Field
from pymongo import AsyncMongoClient

from shared.events import utc_now


class TradeState(StrEnum):
    REQUESTED = "requested"
    IN_PROGRESS = "in_progress"
    EXECUTED = "executed"  # staked, or planned in paper mode
    # No stake, for the outcome's skip_reason: neutral or no score, kill switch, cap reached, no
    # position to unstake, or a free balance short of the amount plus the fee.
    SKIPPED = "skipped"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"  # a hop kept failing; the entry waits in <stream>.dlq


TERMINAL_STATES = frozenset(
    {TradeState.EXECUTED, TradeState.SKIPPED, TradeState.FAILED, TradeState.DEAD_LETTERED}
)


class HopState(StrEnum):
    STARTED = "started"
    FINISHED = "finished"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"


class ClaimState(StrEnum):
    CLAIMED = "claimed"  # this trade's stake is being decided by one consumer
    SUBMITTING = "submitting"  # an extrinsic may be on its way: never submit again blind
    DONE = "done"


class Trade(Document):
    """One trade, from the request that admitted it to its outcome.

    Every document here is keyed by ``_id`` (the trade id, or trade id and hop), and every write
    on the pipeline's path filters by ``_id`` alone: the one index MongoDB always has, and the
    only filter FerretDB 1.24 (CI's server) hands down to its storage instead of decoding and
    filtering the whole collection in Go.
    """

    id: str  # type: ignore[assignment]  # the trade id, not an ObjectId
    trace_id: str
    netuid: int
    hotkey: str
    state: TradeState = TradeState.REQUESTED
    # The API token's name (never its secret), or "stream" for a trade written to the stream.
    requested_by: str
    requested_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    error: str | None = None
    # What the trade came to (the stake decision and result), once it is terminal.
    outcome: dict[str, Any] | None = None

    class Settings:
        name = "trades"
        indexes = [  # noqa: RUF012 - Beanie reads this plain class attribute
            pymongo.IndexModel([("netuid", 1), ("hotkey", 1), ("requested_at", -1)]),
            pymongo.IndexModel([("state", 1), ("requested_at", -1)]),
        ]


class HopRecord(Document):
    """One hop of one trade: when it ran, how often, what it produced or why it failed."""

    id: str  # type: ignore[assignment]  # HopRecord.key(trade_id, hop)
    trade_id: str
    hop: str
    state: HopState = HopState.STARTED
    attempts: int = 0
    entry_id: str
    consumer: str
    started_at: datetime = Field(default_factory=utc_now)
    finished_at: datetime | None = None
    duration_ms: float | None = None
    summary: dict[str, Any] = Field(default_factory=dict)
    # The event this hop emitted, kept so a redelivered entry re-emits it instead of redoing work.
    output: dict[str, Any] | None = None
    # The trade's final state when this hop ended the trade, re-applied on a redelivery.
    trade_state: TradeState | None = None
    error: str | None = None

    @staticmethod
    def key(trade_id: str, hop: str) -> str:
        """The ``_id`` of ``hop``'s record for ``trade_id``: one record per hop and trade."""
        return f"{trade_id}/{hop}"

    class Settings:
        name = "hops"
        indexes = [  # noqa: RUF012 - Beanie reads this plain class attribute
            pymongo.IndexModel([("trade_id", 1)]),  # a trade's timeline
        ]


class StakeClaim(Document):
    """The one right to stake for a trade: inserted before anything is submitted.

    Its ``_id`` is the trade id, so a second insert fails: however often the event is delivered
    and however many executors run, one of them decides and at most one extrinsic is sent.
    """

    id: str  # type: ignore[assignment]  # the trade id
    state: ClaimState = ClaimState.CLAIMED
    consumer: str
    claimed_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    # The stake.executed event once known.
    outcome: dict[str, Any] | None = None

    class Settings:
        name = "stake_claims"


class KillSwitchChange(Document):
    """One flip of the trading kill switch (``shared.killswitch``): who, when, to what.

    Written before the flip takes effect and never changed afterwards: the audit trail.
    """

    id: str  # type: ignore[assignment]  # a fresh id per flip
    engaged: bool
    # The API token's name (never its secret).
    by: str
    at: datetime = Field(default_factory=utc_now)

    class Settings:
        name = "kill_switch_changes"


DOCUMENTS: list[type[Document]] = [Trade, HopRecord, StakeClaim, KillSwitchChange]


def mongo_client(url: str, timeout_seconds: float) -> AsyncMongoClient[dict[str, object]]:
    """A client whose every operation gives up after ``timeout_seconds``, and whose commands
    are counted (``taodiv_mongodb_commands_total``)."""
    # Imported here: shared.metrics reads stream state through modules that import this one.
    from shared.metrics import MongoCommandCounter

    timeout_ms = int(timeout_seconds * 1000)
    return AsyncMongoClient(
        url,
        event_listeners=[MongoCommandCounter()],
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
        timeoutMS=timeout_ms,
        tz_aware=True,
    )


async def init_documents(client: AsyncMongoClient[dict[str, object]], database: str) -> None:
    """Bind the documents to ``database`` and create their indexes (idempotent)."""
    await init_beanie(database=client[database], document_models=DOCUMENTS, skip_indexes=True)
    for document in DOCUMENTS:
        await ensure_indexes(document)


async def ensure_indexes(document: type[Document]) -> None:
    """Make a collection's indexes those of its ``Settings.indexes``, one command per index.

    Beanie sends all of a collection's indexes in one command. FerretDB 1.24 (the local
    MongoDB-compatible server of CI and ``make run-local``) drops the connection on such a
    command when the indexes already exist, i.e. on every start after the first. One index per
    command is idempotent on both FerretDB and MongoDB.

    Indexes no longer declared are dropped: a unique index left by an earlier version of a
    document would otherwise go on refusing inserts that the current version makes.
    """
    collection = document.get_pymongo_collection()
    declared = IndexModelField.list_to_index_model(document.get_settings().indexes or [])
    keep = {"_id_"} | {index.document["name"] for index in declared}
    for info in await (await collection.list_indexes()).to_list():
        if info["name"] not in keep:
            await collection.drop_index(info["name"])
    for index in declared:
        await collection.create_indexes([index])
