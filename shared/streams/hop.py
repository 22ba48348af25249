"""One hop for a batch of stream entries: record, do the work, then emit and acknowledge together.

FastStream leaves delivery guarantees to the application (see the README). The order here is
what makes a crash at any point safe, for every entry of the batch:

1. the trade's record exists and is in progress: created in one bulk insert when it is missing,
   for the batch's entries that a previous hop did not publish (that hop recorded the trade
   before it published; and on FerretDB a bulk insert that meets an existing document falls
   back to one transaction per document);
2. a redelivered entry counts one more attempt on its hop's record (a first delivery's attempt
   is recorded with its outcome, in step 4);
3. the hop's service runs, for up to ``concurrency`` entries at once;
4. the result is recorded with the event it produced: the hops that finished on a first
   delivery in one bulk insert, everything else one record at a time;
5. the next events are published and the entries acknowledged in one MULTI/EXEC transaction.

A crash before 5 leaves the entries pending, to be claimed and delivered again, one by one (see
``shared.streams.app``). An entry whose hop already finished re-emits the recorded event; one
whose hop failed for good is only acknowledged. Each entry is acknowledged only for itself: one
that failed for a transient reason stays pending while the rest of its batch goes on. A hop
that keeps failing moves its entry to the dead-letter stream after ``max_attempts``; attempts
are counted in the hop's record, so deliveries that could not even reach MongoDB (an outage) do
not use any up.

Why batches: on the MongoDB-compatible server of CI (FerretDB on SQLite) a bulk insert of a
batch costs less than one single-document update, so the common case, an entry delivered for
the first time whose hop finishes, costs no single-document write at all. Its hop record is
therefore not looked up before the work, unless the hop says it must be (``look_first``: the
stake-executor, whose work is not safely repeatable): an entry duplicated by its producer may
then run an idempotent hop (a search, a score) again, and its result is discarded at step 4 for
the recorded one, which is what it re-emits. A consumer killed while it works on a first
delivery leaves no record of that attempt; the redelivery counts from there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Protocol, TypeVar

import structlog
from faststream.redis.publisher.usecase import StreamPublisher
from redis.asyncio import Redis

from shared.documents import HopRecord, HopState, TradeState
from shared.events import Event, TradeRequested, utc_now
from shared.logging import get_logger
from shared.metrics import HOP_SECONDS
from shared.records import (
    finish_trade,
    hop_dead_lettered,
    hop_failed,
    hop_finished,
    hop_started,
    hops_finished,
    trades_in_progress,
)
from shared.streams.deadletter import MalformedEntry, dead_letter, parse_entry
from shared.streams.topology import Hop

log = get_logger(__name__)

In = TypeVar("In", bound=Event, contravariant=True)
Out = TypeVar("Out", bound=Event)
# How handling an entry ended, for the hop duration metric.
Outcome = Literal["finished", "failed", "retry", "dead_lettered", "replayed"]


@dataclass(frozen=True, slots=True)
class HopResult(Generic[Out]):
    event: Out
    # What the hop produced, for the trade's timeline (tweet ids, the score, the stake result).
    summary: dict[str, Any] = field(default_factory=dict)
    # Set by the hop that ends the trade.
    trade_state: TradeState | None = None


class HopFailed(Exception):
    """The hop cannot succeed for this trade (a refused key, a rejected request): the trade fails.

    Any other exception is taken as transient: the entry stays pending and is delivered again.
    """


class HopService(Protocol[In, Out]):
    async def run(self, event: In) -> HopResult[Out]: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """One stream entry in hand: its id, its message, and whether the previous hop published
    it (a FastStream message, with headers) rather than another producer (plain JSON)."""

    entry_id: str
    data: bytes
    published: bool = False


@dataclass(slots=True)
class _Entry:
    """One valid entry of a batch, and what handling it came to."""

    entry_id: str
    data: bytes
    event: Event
    published: bool
    record: HopRecord | None = None  # its hop's record, when one was counted or found
    started_at: datetime = field(default_factory=utc_now)
    outcome: Outcome = "retry"  # unless set otherwise: the entry stays pending
    emit: Event | None = None  # the event to publish before acknowledging
    ack: bool = False
    result: HopResult[Any] | None = None
    duration_ms: float = 0.0
    # The final state to give the trade once the hop's record is written.
    trade_state: TradeState | None = None
    trade_outcome: dict[str, Any] | None = None

    @property
    def after_a_hop(self) -> bool:
        """Published by the previous hop, which recorded the trade before it published. (A
        ``trade.requested`` entry comes from a producer, the gateway's too: the first hop
        moves the trade the gateway recorded on, or creates it.)"""
        return self.published and not isinstance(self.event, TradeRequested)


class HopRunner(Generic[In, Out]):
    def __init__(
        self,
        hop: Hop,
        service: HopService[In, Out],
        publisher: StreamPublisher,
        redis: Redis,
        *,
        consumer: str,
        max_attempts: int,
        concurrency: int,
        look_first: bool = False,
    ) -> None:
        self._hop = hop
        self._service = service
        self._publisher = publisher
        self._redis = redis
        self._consumer = consumer
        self._max_attempts = max_attempts
        self._slots = asyncio.Semaphore(concurrency)
        self._look_first = look_first
        # Trade id -> set when the entry of that trade being handled is done.
        self._in_hand: dict[str, asyncio.Event] = {}

    async def handle(self, deliveries: Sequence[Delivery], *, redelivered: bool) -> None:
        """Handle a batch read together: ``redelivered`` when they were claimed from another
        (or an earlier) consumer, whose attempts are counted before any work."""
        started = time.perf_counter()
        entries = await self._valid(deliveries)
        try:
            await self._handle_in_turn(entries, redelivered=redelivered)
        finally:
            elapsed = time.perf_counter() - started
            for entry in entries:
                HOP_SECONDS.labels(self._hop.name, entry.outcome).observe(elapsed)

    async def _valid(self, deliveries: Sequence[Delivery]) -> list[_Entry]:
        """The batch's valid entries; the others are dead-lettered with the reason, now."""
        entries = []
        for delivery in deliveries:
            try:
                event = parse_entry(self._hop, delivery.data)
            except MalformedEntry as error:
                await dead_letter(
                    self._redis, self._hop, delivery.entry_id, delivery.data,
                    reason=str(error), consumer=self._consumer, attempts=1,
                )  # fmt: skip
            else:
                entries.append(_Entry(delivery.entry_id, delivery.data, event, delivery.published))
        return entries

    async def _handle_in_turn(self, entries: list[_Entry], *, redelivered: bool) -> None:
        """Handle the entries, one per trade at a time in this process: a duplicate of a trade
        that another entry in hand is working on (in this batch, or in another one in flight)
        waits for it to end, then goes, and finds its record."""
        while entries:
            free: dict[str, _Entry] = {}
            waiting: list[_Entry] = []
            for entry in entries:
                trade_id = entry.event.trade_id
                if trade_id in free or trade_id in self._in_hand:
                    waiting.append(entry)
                else:
                    free[trade_id] = entry
            holders = {
                self._in_hand[e.event.trade_id]
                for e in waiting
                if e.event.trade_id in self._in_hand
            }
            ended = asyncio.Event()
            self._in_hand |= dict.fromkeys(free, ended)
            try:
                await self._handle(list(free.values()), redelivered=redelivered)
            finally:
                for trade_id in free:
                    del self._in_hand[trade_id]
                ended.set()
            for holder in holders:
                await holder.wait()
            entries = waiting

    async def _handle(self, entries: list[_Entry], *, redelivered: bool) -> None:
        await trades_in_progress([entry.event for entry in entries if not entry.after_a_hop])
        if redelivered:
            await asyncio.gather(*(self._count_attempt(entry) for entry in entries))
        elif self._look_first:
            await asyncio.gather(*(self._look_up(entry) for entry in entries))
        to_run = [entry for entry in entries if await self._resolved_by_record(entry)]
        await asyncio.gather(*(self._run(entry) for entry in to_run))
        await self._record(to_run)
        await asyncio.gather(*(self._finish_trade(entry) for entry in entries))
        await self._emit(entries)

    async def _count_attempt(self, entry: _Entry) -> None:
        entry.record = await hop_started(
            entry.event.trade_id, self._hop.name, entry_id=entry.entry_id, consumer=self._consumer
        )

    async def _look_up(self, entry: _Entry) -> None:
        """A first delivery of a hop whose work must not be repeated: an existing record (the
        entry was duplicated, or the trade was resumed) makes it count as a redelivery."""
        key = HopRecord.key(entry.event.trade_id, self._hop.name)
        if await HopRecord.get_pymongo_collection().find_one({"_id": key}, {"_id": 1}):
            await self._count_attempt(entry)

    async def _resolved_by_record(self, entry: _Entry) -> bool:
        """Settle an entry from its hop's record when the record says how; False then, True
        when the hop's work is still to be done."""
        record = entry.record
        if record is None:
            return True
        if record.state is HopState.FINISHED and record.output is not None:
            log.info("hop.replayed", **self._ids(entry), attempts=record.attempts)
            self._replay(entry, record)
            return False
        if record.state in (HopState.FAILED, HopState.DEAD_LETTERED):
            log.info("hop.already_ended", **self._ids(entry), state=record.state)
            entry.ack, entry.outcome = True, "replayed"
            return False
        if record.attempts > self._max_attempts:  # earlier attempts died before recording
            await self._give_up(entry, record, record.error or "attempts exhausted")
            return False
        return True

    def _replay(self, entry: _Entry, record: HopRecord) -> None:
        """Re-emit what the hop recorded; re-apply the trade's final state, which the earlier
        attempt may have died before writing."""
        assert record.output is not None
        entry.emit = self._hop.output_event.model_validate(record.output)
        entry.ack, entry.outcome = True, "replayed"
        entry.trade_state, entry.trade_outcome = record.trade_state, record.output

    async def _run(self, entry: _Entry) -> None:
        async with self._slots:
            # The ids on every line the hop's service logs, and for whatever it calls.
            with structlog.contextvars.bound_contextvars(**self._ids(entry)):
                started = time.monotonic()
                try:
                    # The event was validated as this hop's event type, ``In``.
                    entry.result = await self._service.run(entry.event)  # type: ignore[arg-type]
                except HopFailed as error:
                    await self._failed(entry, str(error), final=True, started=started)
                except Exception as error:
                    await self._failed(entry, _describe(error), final=False, started=started)
                entry.duration_ms = _ms(started)

    async def _failed(self, entry: _Entry, error: str, *, final: bool, started: float) -> None:
        record = entry.record or await hop_started(
            entry.event.trade_id, self._hop.name, entry_id=entry.entry_id, consumer=self._consumer
        )
        entry.record = record
        await hop_failed(record, error=error, final=final, duration_ms=_ms(started))
        if final:
            log.warning("hop.failed", error=error)
            entry.ack, entry.outcome = True, "failed"
            return
        log.warning("hop.attempt_failed", attempts=record.attempts, error=error)
        if record.attempts >= self._max_attempts:
            await self._give_up(entry, record, error)

    async def _record(self, entries: list[_Entry]) -> None:
        """Record every finished hop: first deliveries in one bulk insert, the others (and any
        first delivery whose record turned out to exist) one by one."""
        done = [entry for entry in entries if entry.result is not None]
        fresh = [entry for entry in done if entry.record is None]
        existing = set(await hops_finished([self._finished_record(entry) for entry in fresh]))
        conflicts = [entry for index, entry in enumerate(fresh) if index in existing]
        for index, entry in enumerate(fresh):
            if index not in existing:
                self._finished(entry)
        await asyncio.gather(
            *(self._record_one(entry) for entry in done if entry.record is not None),
            *(self._resolve_conflict(entry) for entry in conflicts),
        )

    def _finished_record(self, entry: _Entry) -> HopRecord:
        assert entry.result is not None
        result = entry.result
        return HopRecord(
            id=HopRecord.key(entry.event.trade_id, self._hop.name),
            trade_id=entry.event.trade_id,
            hop=self._hop.name,
            state=HopState.FINISHED,
            attempts=1,
            entry_id=entry.entry_id,
            consumer=self._consumer,
            started_at=entry.started_at,
            finished_at=utc_now(),
            duration_ms=entry.duration_ms,
            summary=result.summary,
            output=result.event.model_dump(mode="json"),
            trade_state=result.trade_state,
        )

    async def _record_one(self, entry: _Entry) -> None:
        assert entry.result is not None
        assert entry.record is not None
        result = entry.result
        await hop_finished(
            entry.record,
            summary=result.summary,
            output=result.event.model_dump(mode="json"),
            duration_ms=entry.duration_ms,
            trade_state=result.trade_state,
        )
        self._finished(entry)

    async def _resolve_conflict(self, entry: _Entry) -> None:
        """A first delivery whose hop record already existed: another entry of the same trade
        recorded it meanwhile, or earlier. A finished one wins (its event is re-emitted, this
        result discarded); otherwise this delivery counts as an attempt on it and records its
        result there."""
        await self._count_attempt(entry)
        record = entry.record
        assert record is not None
        if record.state is HopState.FINISHED and record.output is not None:
            log.info("hop.replayed", **self._ids(entry), attempts=record.attempts)
            self._replay(entry, record)
        elif record.state in (HopState.FAILED, HopState.DEAD_LETTERED):
            entry.ack, entry.outcome = True, "replayed"
        else:
            await self._record_one(entry)

    def _finished(self, entry: _Entry) -> None:
        assert entry.result is not None
        result = entry.result
        entry.emit, entry.ack, entry.outcome = result.event, True, "finished"
        if result.trade_state is not None:
            entry.trade_state = result.trade_state
            entry.trade_outcome = result.event.model_dump(mode="json")
        log.info("hop.finished", **self._ids(entry), duration_ms=entry.duration_ms)

    async def _finish_trade(self, entry: _Entry) -> None:
        if entry.trade_state is not None:
            await finish_trade(entry.event.trade_id, entry.trade_state, outcome=entry.trade_outcome)

    async def _give_up(self, entry: _Entry, record: HopRecord, error: str) -> None:
        await dead_letter(
            self._redis, self._hop, entry.entry_id, entry.data,
            reason=error, consumer=self._consumer, attempts=record.attempts,
        )  # fmt: skip
        await hop_dead_lettered(record, error=error)
        entry.outcome = "dead_lettered"  # acknowledged with its dead letter

    async def _emit(self, entries: list[_Entry]) -> None:
        """Publish the next events and acknowledge their entries in one transaction."""
        acked = [entry for entry in entries if entry.ack]
        if not acked:
            return
        async with self._redis.pipeline(transaction=True) as pipeline:
            for entry in acked:
                if entry.emit is not None:
                    await self._publisher.publish(
                        entry.emit, correlation_id=entry.emit.trace_id, pipeline=pipeline
                    )
            await pipeline.xack(self._hop.stream, self._hop.group, *(e.entry_id for e in acked))
            await pipeline.execute()

    def _ids(self, entry: _Entry) -> dict[str, str]:
        """What names the entry on a log line: the trade, its trace, the hop, the entry."""
        event = entry.event
        return {
            "trade_id": event.trade_id,
            "trace_id": event.trace_id,
            "hop": self._hop.name,
            "entry_id": entry.entry_id,
        }


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]
