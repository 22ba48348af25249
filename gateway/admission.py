"""Trade admission: one open trade per (netuid, hotkey) per cooldown, recorded, then published.

The cooldown claim is one atomic ``SET NX EX`` in Redis, so concurrent requests in any number
of gateway processes agree on a single trade id. The trade is recorded in MongoDB before its
event is published (a failure publishes nothing); if publishing fails, the record is marked
failed and the claim released, so the client can retry at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from faststream.redis import RedisBroker
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.documents import Trade, TradeState
from shared.errors import TradeUnavailable
from shared.events import TradeRequested, new_id, utc_now
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Admission:
    trade_id: str
    # False when an open trade for the same target was found instead of a new one queued.
    created: bool


class TradeAdmission:
    def __init__(self, redis: Redis, broker: RedisBroker, settings: Settings) -> None:
        self._redis = redis
        self._broker = broker
        self._cooldown = settings.trade_cooldown_seconds
        self._stream = settings.stream_trade_requested
        self._maxlen = settings.stream_maxlen

    async def admit(
        self, *, netuid: int, hotkey: str, requested_by: str, trace_id: str
    ) -> Admission:
        claim_key = f"trade:open:{netuid}:{hotkey}"
        trade_id = new_id()
        try:
            existing = await self._claim(claim_key, trade_id)
        except RedisError as error:
            log.warning("trade.admission_unavailable", error=str(error))
            raise TradeUnavailable("trades cannot be admitted right now", retry_after=5) from error
        if existing is not None:
            log.info("trade.deduplicated", trade_id=existing, netuid=netuid)
            return Admission(existing, created=False)

        event = TradeRequested(trade_id=trade_id, trace_id=trace_id, netuid=netuid, hotkey=hotkey)
        record = Trade(
            id=trade_id,
            trace_id=trace_id,
            netuid=netuid,
            hotkey=hotkey,
            requested_by=requested_by,
            requested_at=event.requested_at,
        )
        try:
            await record.insert()
        except PyMongoError as error:
            await self._release(claim_key, trade_id)
            log.warning("trade.record_failed", trade_id=trade_id, error=str(error))
            raise TradeUnavailable("the trade could not be recorded", retry_after=5) from error
        try:
            await self._broker.publish(
                event, stream=self._stream, maxlen=self._maxlen, correlation_id=trace_id
            )
        except Exception as error:
            await self._mark_failed(record, f"publish failed: {error}")
            await self._release(claim_key, trade_id)
            log.warning("trade.publish_failed", trade_id=trade_id, error=str(error))
            raise TradeUnavailable("the trade could not be queued", retry_after=5) from error
        log.info("trade.requested", trade_id=trade_id, netuid=netuid, hotkey=hotkey)
        return Admission(trade_id, created=True)

    async def _claim(self, key: str, trade_id: str) -> str | None:
        """None when ``trade_id`` now holds the claim, else the id of the trade holding it."""
        for _ in range(3):  # the holder's claim may expire between our SET and GET
            if await self._redis.set(key, trade_id, nx=True, ex=self._cooldown):
                return None
            holder = await self._redis.get(key)
            if holder is not None:
                return holder.decode() if isinstance(holder, bytes) else str(holder)
        raise RedisError("could not claim or read the trade cooldown key")

    async def _release(self, key: str, trade_id: str) -> None:
        try:
            if await self._redis.get(key) in (trade_id, trade_id.encode()):
                await self._redis.delete(key)
        except RedisError as error:
            log.warning("trade.release_failed", trade_id=trade_id, error=str(error))

    async def _mark_failed(self, record: Trade, reason: str) -> None:
        try:
            await record.set(
                {Trade.state: TradeState.FAILED, Trade.error: reason, Trade.updated_at: utc_now()}
            )
        except PyMongoError as error:
            log.error("trade.mark_failed_failed", trade_id=record.id, error=str(error))
