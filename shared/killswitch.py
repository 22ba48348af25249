"""The trading kill switch at run time: held in Redis, read by the stake-executor on every trade.

``TRADING_KILL_SWITCH`` is the switch's value until someone flips it (from the console). A flip
is stored in Redis, so every stake-executor replica sees it on its next trade and it outlives
restarts of the processes; it holds until flipped back. A Redis that lost the key (flushed, or
restarted without persistence) falls back to ``TRADING_KILL_SWITCH``.

Each flip is audited in MongoDB (``KillSwitchChange``: who, when, to what) before it is stored in
Redis, so no flip ever takes effect unrecorded; a flip whose Redis write then fails is recorded
and reported as failed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from beanie import SortDirection
from redis.asyncio import Redis

from shared.documents import KillSwitchChange
from shared.events import new_id, utc_now

KEY = "trading:kill_switch"
# Who set the switch when nobody has flipped it: the setting.
STARTUP_DEFAULT = "TRADING_KILL_SWITCH"


@dataclass(frozen=True, slots=True)
class SwitchState:
    engaged: bool
    # The token name that flipped it, or STARTUP_DEFAULT.
    by: str
    # When it was flipped; None for the startup default.
    at: datetime | None

    def describe(self) -> str:
        """``engaged by local-admin at 2025-01-02 10:00:00 UTC``, for a person to read."""
        word = "engaged" if self.engaged else "released"
        if self.at is None:
            return f"{word} ({self.by}={str(self.engaged).lower()}, the startup default)"
        return f"{word} by {self.by} at {self.at:%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True, slots=True)
class SwitchReport:
    state: SwitchState
    changes: list[KillSwitchChange]  # the latest flips, newest first


class KillSwitch:
    def __init__(self, redis: Redis, *, default: bool) -> None:
        self._redis = redis
        self._default = default

    async def state(self) -> SwitchState:
        """The switch as it is now: one Redis read."""
        raw = await self._redis.get(KEY)
        if raw is None:
            return SwitchState(engaged=self._default, by=STARTUP_DEFAULT, at=None)
        stored = json.loads(raw)
        return SwitchState(
            engaged=bool(stored["engaged"]),
            by=str(stored["by"]),
            at=datetime.fromisoformat(stored["at"]),
        )

    async def flip(self, *, engaged: bool, by: str) -> SwitchState:
        """Set the switch for every trade from the next one on, audited first."""
        now = utc_now()
        # MongoDB keeps milliseconds: the Redis copy names the same instant as the audit.
        at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        change = KillSwitchChange(id=new_id(), engaged=engaged, by=by, at=at)
        await change.insert()
        stored = {"engaged": engaged, "by": by, "at": change.at.isoformat()}
        await self._redis.set(KEY, json.dumps(stored))
        return SwitchState(engaged=engaged, by=by, at=at)

    async def report(self, *, changes: int) -> SwitchReport:
        """The switch as it is now, and its latest ``changes`` flips from the audit."""
        newest_first = ("at", SortDirection.DESCENDING)
        found = await KillSwitchChange.find_all().sort(newest_first).limit(changes).to_list()
        return SwitchReport(await self.state(), found)
