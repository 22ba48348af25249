"""Trade admission: one open trade per (netuid, hotkey) per cooldown, recorded, then published.

A claim in Redis (``SET NX``) makes concurrent requests in every gateway process agree on one
trade per target. While its trade is being recorded in MongoDB and published, the claim is
provisional (``pending:<id>``) and expires after the longest that can take (each step is
bounded by its timeout; twice that). Once the trade is queued, the claim holds its id for the
cooldown.

- A repeat within the cooldown answers the queued trade's id. A repeat that finds a provisional
  claim waits for it to end (at most the provisional window; then 503), so no client is handed
  the id of a trade that then fails to be recorded or queued. Concurrent requests for one target
  in one process share one admission (``gateway.singleflight``).
- Recording fails (MongoDB away): nothing is published. Publishing fails: the record is marked
  failed. Either way the claim is released and the answer is 503 with Retry-After, so the
  client can retry at once.
- A Redis that stalls can carry out a claim after the request gave up on it and answered 503.
  Such a claim stays provisional and lapses within the provisional window, instead of holding
  the target for the cooldown under the id of a trade that was never recorded.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from faststream.redis import RedisBroker
from pymongo.errors import PyMongoError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.singleflight import SingleFlight
from shared.documents import Trade, TradeState
from shared.errors import TradeUnavailable
from shared.events import TradeRequested, new_id, utc_now
from shared.logging import get_logger
from shared.metrics import REDIS_FAILURES
from shared.settings import Settings

log = get_logger(__name__)

_PENDING = "pending:"
_POLL_SECONDS = 0.05
_RETRY_AFTER = 5
# KEYS[1] the claim; ARGV[1] its provisional value, ARGV[2] the trade id, ARGV[3] the cooldown in
# ms. The trade is queued: if the claim is still its own, it holds the trade id for the cooldown.
_CONFIRM = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Admission:
    trade_id: str
    # False when an open trade for the same target was found instead of a new one queued.
    created: bool


class TradeAdmission:
    def __init__(self, redis: Redis, broker: RedisBroker, settings: Settings) -> None:
        self._redis = redis
        self._broker = broker
        self._confirm = redis.register_script(_CONFIRM)
        self._cooldown_ms = settings.trade_cooldown_seconds * 1000
        longest = settings.mongodb_timeout_seconds + settings.redis_timeout_seconds
        self._provisional_ms = min(self._cooldown_ms, int(2000 * longest))
        self._stream = settings.stream_trade_requested
        self._maxlen = settings.stream_maxlen
        self._admitting: SingleFlight[Admission] = SingleFlight()

    async def admit(
        self, *, netuid: int, hotkey: str, requested_by: str, trace_id: str
    ) -> Admission:
        event = TradeRequested(trade_id=new_id(), trace_id=trace_id, netuid=netuid, hotkey=hotkey)
        claim_key = f"trade:open:{netuid}:{hotkey}"
        admission, started = await self._admitting.run(
            claim_key, lambda: self._admit(claim_key, event, requested_by)
        )
        return admission if started else Admission(admission.trade_id, created=False)

    async def _admit(self, claim_key: str, event: TradeRequested, requested_by: str) -> Admission:
        trade_id = event.trade_id
        try:
            holder = await self._claim(claim_key, trade_id)
        except RedisError as error:
            REDIS_FAILURES.labels("trade_admission").inc()
            log.warning("trade.admission_unavailable", error=str(error))
            raise TradeUnavailable(
                "trades cannot be admitted right now", retry_after=_RETRY_AFTER
            ) from error
        if holder is not None:
            log.info("trade.deduplicated", trade_id=holder, netuid=event.netuid)
            return Admission(holder, created=False)

        record = Trade(
            id=trade_id,
            trace_id=event.trace_id,
            netuid=event.netuid,
            hotkey=event.hotkey,
            requested_by=requested_by,
            requested_at=event.requested_at,
        )
        try:
            await record.insert()
        except PyMongoError as error:
            await self._release(claim_key, trade_id)
            log.warning("trade.record_failed", trade_id=trade_id, error=str(error))
            raise TradeUnavailable(
                "the trade could not be recorded", retry_after=_RETRY_AFTER
            ) from error
        try:
            await self._broker.publish(
                event, stream=self._stream, maxlen=self._maxlen, correlation_id=event.trace_id
            )
        except Exception as error:
            await self._mark_failed(record, f"publish failed: {error}")
            await self._release(claim_key, trade_id)
            log.warning("trade.publish_failed", trade_id=trade_id, error=str(error))
            raise TradeUnavailable(
                "the trade could not be queued", retry_after=_RETRY_AFTER
            ) from error
        await self._hold(claim_key, trade_id)
        log.info("trade.requested", trade_id=trade_id, netuid=event.netuid, hotkey=event.hotkey)
        return Admission(trade_id, created=True)

    async def _claim(self, key: str, trade_id: str) -> str | None:
        """None once ``trade_id`` holds the (provisional) claim; else the id of the queued trade
        holding it. Another request's provisional claim is waited out."""
        give_up = time.monotonic() + self._provisional_ms / 1000
        while True:
            if await self._redis.set(key, _PENDING + trade_id, nx=True, px=self._provisional_ms):
                return None
            holder = await self._redis.get(key)
            if holder is not None and not _text(holder).startswith(_PENDING):
                return _text(holder)
            if time.monotonic() >= give_up:
                raise TradeUnavailable(
                    "another request is still admitting a trade for this target", retry_after=1
                )
            if holder is not None:  # provisional: wait until it is queued or released
                await asyncio.sleep(_POLL_SECONDS)

    async def _hold(self, key: str, trade_id: str) -> None:
        """The trade is queued: its claim now lasts the cooldown."""
        # If this fails, or the claim already lapsed, the trade is queued all the same; the
        # target is then open again early, so a repeat may open a second trade.
        try:
            held = await self._confirm(
                keys=[key], args=[_PENDING + trade_id, trade_id, self._cooldown_ms]
            )
        except RedisError as error:
            REDIS_FAILURES.labels("trade_admission").inc()
            log.warning("trade.hold_failed", trade_id=trade_id, error=str(error))
        else:
            if not held:
                log.warning("trade.claim_lapsed", trade_id=trade_id)

    async def _release(self, key: str, trade_id: str) -> None:
        try:
            holder = await self._redis.get(key)
            if holder is not None and _text(holder) == _PENDING + trade_id:
                await self._redis.delete(key)
        except RedisError as error:
            REDIS_FAILURES.labels("trade_admission").inc()
            log.warning("trade.release_failed", trade_id=trade_id, error=str(error))

    async def _mark_failed(self, record: Trade, reason: str) -> None:
        try:
            await record.set(
                {Trade.state: TradeState.FAILED, Trade.error: reason, Trade.updated_at: utc_now()}
            )
        except PyMongoError as error:
            log.error("trade.mark_failed_failed", trade_id=record.id, error=str(error))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
