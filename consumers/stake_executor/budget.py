"""The daily cap: TAO committed per UTC day, reserved atomically in Redis across all replicas.

A reservation is keyed by trade, so a redelivered trade never reserves twice.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from redis.asyncio import Redis

RAO_PER_TAO = 1_000_000_000

# KEYS[1] the day's total, KEYS[2] this trade's reservation; ARGV[1] amount, ARGV[2] cap (rao).
# Returns 1 when reserved (now or earlier), 0 when the cap would be exceeded.
_RESERVE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
local total = redis.call('INCRBY', KEYS[1], ARGV[1])
if total > tonumber(ARGV[2]) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return 0
end
redis.call('SET', KEYS[2], ARGV[1], 'EX', 172800)
redis.call('EXPIRE', KEYS[1], 172800)
return 1
"""


class DailyBudget:
    def __init__(self, redis: Redis, *, cap_tao: Decimal, mode: str) -> None:
        self._reserve = redis.register_script(_RESERVE)
        self._cap_rao = int(cap_tao * RAO_PER_TAO)
        self._mode = mode

    async def reserve(self, trade_id: str, amount_tao: Decimal, day: date) -> bool:
        """Reserve ``amount_tao`` of ``day``'s cap for ``trade_id``; False when it does not fit."""
        keys = [
            f"stake:budget:{self._mode}:{day.isoformat()}",
            f"stake:budget:{self._mode}:trade:{trade_id}",
        ]
        reserved = await self._reserve(
            keys=keys, args=[int(amount_tao * RAO_PER_TAO), self._cap_rao]
        )
        return bool(reserved)
