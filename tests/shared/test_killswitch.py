"""The runtime kill switch on real Redis and MongoDB: its default, a flip, and the audit trail."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from shared.documents import KillSwitchChange
from shared.killswitch import KEY, STARTUP_DEFAULT, KillSwitch

pytestmark = pytest.mark.usefixtures("documents")


@pytest.mark.parametrize("default", [False, True])
async def test_unflipped_it_is_the_startup_setting(redis: Redis, default: bool) -> None:
    """Until anyone flips it, the switch is TRADING_KILL_SWITCH."""
    state = await KillSwitch(redis, default=default).state()
    assert (state.engaged, state.by, state.at) == (default, STARTUP_DEFAULT, None)


async def test_a_flip_holds_for_every_reader_and_overrides_the_setting(redis: Redis) -> None:
    """Engaged by one process, another one (started with the setting off) reads it engaged."""
    flipped = await KillSwitch(redis, default=False).flip(engaged=True, by="ops-admin")
    state = await KillSwitch(redis, default=False).state()
    assert state == flipped
    assert (state.engaged, state.by) == (True, "ops-admin")
    assert state.describe().startswith("engaged by ops-admin at ")


async def test_releasing_it_overrides_a_setting_that_engages_it(redis: Redis) -> None:
    """Started with TRADING_KILL_SWITCH=true, a release from the console lets trades run."""
    switch = KillSwitch(redis, default=True)
    await switch.flip(engaged=False, by="ops-admin")
    assert not (await switch.state()).engaged


async def test_every_flip_is_audited_newest_first(redis: Redis) -> None:
    """Who flipped it, when and to what, in MongoDB, before it takes effect."""
    switch = KillSwitch(redis, default=False)
    first = await switch.flip(engaged=True, by="ops-admin")
    second = await switch.flip(engaged=False, by="night-shift")
    report = await switch.report(changes=10)
    assert [(c.engaged, c.by, c.at) for c in report.changes] == [
        (False, "night-shift", second.at),
        (True, "ops-admin", first.at),
    ]
    assert report.state == second
    assert await KillSwitchChange.count() == 2
    assert len((await switch.report(changes=1)).changes) == 1


async def test_a_redis_that_lost_the_key_falls_back_to_the_setting(redis: Redis) -> None:
    """A Redis restarted empty forgets the flip: the startup setting applies again."""
    switch = KillSwitch(redis, default=True)
    await switch.flip(engaged=False, by="ops-admin")
    await redis.delete(KEY)
    assert (await switch.state()).engaged
