"""The stake-executor on real Redis and MongoDB: at most one extrinsic per trade, caps, failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bittensor.sp_core import Keypair
from redis.asyncio import Redis

from consumers.stake_executor.app import create_app
from offline.substrate import FakeSubstrate, client_factory
from shared.documents import ClaimState, HopRecord, HopState, StakeClaim, TradeState
from shared.events import StakeAction, StakeExecuted, utc_now
from shared.killswitch import KillSwitch
from shared.settings import Settings
from tests.conftest import TRADER_MNEMONIC
from tests.pipeline_support import (
    FAST_RECLAIM,
    entry,
    running,
    sentiment_scored,
    wait_for_terminal,
)
from tests.waiting import eventually


def live(settings: Settings, **changes: Any) -> Settings:
    return Settings(
        **{
            **settings.model_dump(),
            "trading_mode": "live",
            "wallet_mnemonic": TRADER_MNEMONIC,
            **changes,
        },
        _env_file=None,
    )


async def send_score(redis: Redis, settings: Settings, trade_id: str, score: int | None) -> None:
    await redis.xadd(settings.stream_sentiment_scored, entry(sentiment_scored(trade_id, score)))


async def _length_is(redis: Redis, stream: str, length: int) -> bool:
    return bool(await redis.xlen(stream) == length)


async def test_a_score_delivered_twice_stakes_once(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """The same trade's score arriving twice (a producer retry) leads to one extrinsic, even
    when both copies are worked on at once."""
    settings = live(settings, **FAST_RECLAIM)
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await send_score(redis, settings, "twice-1", 70)
        await send_score(redis, settings, "twice-1", 70)
        trade = await wait_for_terminal("twice-1")
        # The duplicate re-emits the recorded outcome; it does not act again.
        await eventually(lambda: _length_is(redis, settings.stream_stake_executed, 2))
    assert trade.state == "executed"
    assert len(substrate.submissions) == 1


async def test_the_kill_switch_submits_nothing(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """With TRADING_KILL_SWITCH on, a strong signal is recorded as skipped."""
    settings = live(settings, trading_kill_switch=True)
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await send_score(redis, settings, "killed-1", 95)
        trade = await wait_for_terminal("killed-1")
    assert trade.state == "skipped"
    assert trade.outcome is not None
    assert trade.outcome["skip_reason"] == "kill_switch"
    assert substrate.submissions == []


async def test_a_kill_switch_flipped_at_run_time_refuses_the_next_trade(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """Engaged while the executor runs, the next trade is refused with who engaged it; released,
    the one after is staked."""
    settings = live(settings)
    switch = KillSwitch(redis, default=False)
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await switch.flip(engaged=True, by="ops-admin")
        await send_score(redis, settings, "flipped-1", 95)
        refused = await wait_for_terminal("flipped-1")
        await switch.flip(engaged=False, by="ops-admin")
        await send_score(redis, settings, "flipped-2", 95)
        staked = await wait_for_terminal("flipped-2")
    assert refused.state == "skipped"
    assert refused.outcome is not None
    assert refused.outcome["reason"].startswith(
        "refused: the trading kill switch is engaged by ops-admin at "
    )
    assert staked.state == "executed"
    assert len(substrate.submissions) == 1


async def test_trades_beyond_the_daily_cap_are_skipped(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """With a 1.5 TAO daily cap and 1 TAO trades, the second trade of the day is skipped."""
    settings = live(settings, stake_daily_cap_tao="1.5")
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await send_score(redis, settings, "cap-1", 60)
        first = await wait_for_terminal("cap-1")
        await send_score(redis, settings, "cap-2", 60)
        second = await wait_for_terminal("cap-2")
    assert first.state == "executed"
    assert second.state == "skipped"
    assert second.outcome is not None
    assert "daily cap" in second.outcome["reason"]
    assert second.outcome["skip_reason"] == "daily_cap"
    assert len(substrate.submissions) == 1


async def test_a_coldkey_holding_nothing_submits_nothing_either_way(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """A live coldkey the chain has never seen: its add is skipped for the balance and its
    remove for the position, before anything is submitted."""
    settings = live(settings, wallet_mnemonic=Keypair.generate_mnemonic())
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await send_score(redis, settings, "nothing-add", 60)
        added = await wait_for_terminal("nothing-add")
        await send_score(redis, settings, "nothing-remove", -60)
        removed = await wait_for_terminal("nothing-remove")
    assert (added.state, removed.state) == ("skipped", "skipped")
    assert added.outcome is not None
    assert removed.outcome is not None
    assert added.outcome["skip_reason"] == "insufficient_balance"
    assert (added.outcome["free_rao"], added.outcome["fee_rao"]) == (0, substrate.fee_rao)
    assert removed.outcome["skip_reason"] == "no_position"
    assert substrate.submissions == []


async def test_a_failed_extrinsic_is_recorded_with_the_chain_error_name(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """An extrinsic the chain rejects ends the trade failed, naming the module error."""
    substrate.submit_error = "NotEnoughBalanceToStake"
    settings = live(settings)
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await send_score(redis, settings, "poor-1", 60)
        trade = await wait_for_terminal("poor-1")
    assert trade.state == "failed"
    assert trade.outcome is not None
    assert trade.outcome["submitted"] is True
    assert trade.outcome["error"] == "NotEnoughBalanceToStake"


async def test_an_unknown_earlier_submission_is_never_repeated(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """A claim left in 'submitting' (a crash mid-submission) fails the trade for a human."""
    settings = live(settings)
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await StakeClaim(id="unsure-1", consumer="crashed", state=ClaimState.SUBMITTING).insert()
        await send_score(redis, settings, "unsure-1", 60)
        trade = await wait_for_terminal("unsure-1")
    assert trade.state == "failed"
    assert trade.error is not None
    assert "reconcile" in trade.error
    assert substrate.submissions == []


async def test_a_claim_abandoned_before_submission_is_taken_over(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """A claim whose holder died before submitting (older than the reclaim idle time) is
    taken over, and the trade is staked once."""
    settings = live(settings)
    stale = utc_now() - timedelta(seconds=settings.stream_reclaim_idle_seconds + 5)
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await StakeClaim(id="stale-1", consumer="crashed", updated_at=stale).insert()
        await send_score(redis, settings, "stale-1", 60)
        trade = await wait_for_terminal("stale-1")
    assert trade.state == "executed"
    assert len(substrate.submissions) == 1


async def test_a_trade_whose_last_hop_finished_before_a_crash_still_ends(
    settings: Settings, substrate: FakeSubstrate, redis: Redis
) -> None:
    """Killed after recording the hop but before the trade's state: the redelivery replays
    the recorded outcome, ends the trade, and stakes nothing more."""
    outcome = StakeExecuted(
        **sentiment_scored("half-1", 60).lineage(),
        action=StakeAction.ADD,
        mode="live",
        reason="recorded before the crash",
        score=60,
        submitted=True,
        success=True,
    ).model_dump(mode="json")
    settings = live(settings)
    async with running(create_app(settings, chain_factory=client_factory(substrate))):
        await HopRecord(
            id=HopRecord.key("half-1", "stake-executor"),
            trade_id="half-1",
            hop="stake-executor",
            state=HopState.FINISHED,
            attempts=1,
            entry_id="0-1",
            consumer="crashed",
            output=outcome,
            trade_state=TradeState.EXECUTED,
        ).insert()
        await send_score(redis, settings, "half-1", 60)
        trade = await wait_for_terminal("half-1")
    assert trade.state == "executed"
    assert substrate.submissions == []
