"""One hop for one stream entry: record it, do the work, then emit and acknowledge together.

FastStream leaves delivery guarantees to the application (see the README). The order here is
what makes a crash at any point safe:

1. the attempt is recorded (its count grows on every delivery);
2. the hop's service runs;
3. the result is recorded, with the event it produced;
4. the next event is published and the entry acknowledged in one MULTI/EXEC transaction.

A crash before 4 leaves the entry pending, to be claimed and delivered again (see
``shared.streams.app``). A redelivered entry whose hop already finished re-emits the recorded
event instead of doing the work twice; one whose hop failed for good is only acknowledged. A hop
that keeps failing moves its entry to the dead-letter stream after ``max_attempts``; attempts
are counted in the hop's record, so deliveries that could not even reach MongoDB (an outage)
do not use any up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, Protocol, TypeVar

import structlog
from faststream.redis import RedisStreamMessage
from faststream.redis.publisher.usecase import StreamPublisher
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from shared.documents import HopRecord, HopState, TradeState
from shared.events import Event, TradeRequested
from shared.logging import get_logger
from shared.metrics import HOP_SECONDS
from shared.records import (
    finish_trade,
    hop_dead_lettered,
    hop_failed,
    hop_finished,
    hop_started,
    trade_in_progress,
)
from shared.streams.deadletter import dead_letter, entry_id_of
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
    ) -> None:
        self._hop = hop
        self._service = service
        self._publisher = publisher
        self._redis = redis
        self._consumer = consumer
        self._max_attempts = max_attempts

    async def handle(self, event: In, msg: RedisStreamMessage, pipeline: Pipeline) -> None:
        started = time.perf_counter()
        outcome: Outcome = "retry"  # unless _handle returns: the entry stays pending
        try:
            with structlog.contextvars.bound_contextvars(
                trade_id=event.trade_id, trace_id=event.trace_id, hop=self._hop.name
            ):
                outcome = await self._handle(event, msg, pipeline)
        finally:
            HOP_SECONDS.labels(self._hop.name, outcome).observe(time.perf_counter() - started)

    async def _handle(self, event: In, msg: RedisStreamMessage, pipeline: Pipeline) -> Outcome:
        entry_id = entry_id_of(msg)
        await trade_in_progress(
            event, requested_at=event.requested_at if isinstance(event, TradeRequested) else None
        )
        record = await hop_started(
            event.trade_id, self._hop.name, entry_id=entry_id, consumer=self._consumer
        )
        if record.state is HopState.FINISHED and record.output is not None:
            log.info("hop.replayed", entry_id=entry_id, attempts=record.attempts)
            if record.trade_state is not None:  # the earlier attempt may have died before this
                await finish_trade(event.trade_id, record.trade_state, outcome=record.output)
            await self._emit(
                self._hop.output_event.model_validate(record.output), entry_id, pipeline
            )
            return "replayed"
        if record.state in (HopState.FAILED, HopState.DEAD_LETTERED):
            log.info("hop.already_ended", entry_id=entry_id, state=record.state)
            await msg.ack()
            return "replayed"
        if record.attempts > self._max_attempts:  # earlier attempts died before recording
            await self._give_up(record, msg, record.error or "attempts exhausted")
            return "dead_lettered"

        started = time.monotonic()
        try:
            result = await self._service.run(event)
        except HopFailed as error:
            await hop_failed(record, error=str(error), final=True, duration_ms=_ms(started))
            log.warning("hop.failed", entry_id=entry_id, error=str(error))
            await msg.ack()
            return "failed"
        except Exception as error:
            await hop_failed(record, error=_describe(error), final=False, duration_ms=_ms(started))
            log.warning(
                "hop.attempt_failed",
                entry_id=entry_id,
                attempts=record.attempts,
                error=_describe(error),
            )
            if record.attempts >= self._max_attempts:
                await self._give_up(record, msg, _describe(error))
                return "dead_lettered"
            raise
        output = result.event.model_dump(mode="json")
        await hop_finished(
            record,
            summary=result.summary,
            output=output,
            duration_ms=_ms(started),
            trade_state=result.trade_state,
        )
        if result.trade_state is not None:
            await finish_trade(event.trade_id, result.trade_state, outcome=output)
        await self._emit(result.event, entry_id, pipeline)
        log.info(
            "hop.finished", entry_id=entry_id, attempts=record.attempts, duration_ms=_ms(started)
        )
        return "finished"

    async def _give_up(self, record: HopRecord, msg: RedisStreamMessage, error: str) -> None:
        await dead_letter(
            self._redis,
            self._hop,
            msg,
            reason=error,
            consumer=self._consumer,
            attempts=record.attempts,
        )
        await hop_dead_lettered(record, error=error)

    async def _emit(self, event: Event, entry_id: str, pipeline: Pipeline) -> None:
        """Publish the next event and acknowledge the entry in one transaction."""
        await self._publisher.publish(event, correlation_id=event.trace_id, pipeline=pipeline)
        await pipeline.xack(self._hop.stream, self._hop.group, entry_id)
        await pipeline.execute()


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:500]
