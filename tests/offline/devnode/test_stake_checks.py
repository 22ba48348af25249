"""The stake-executor reads the chain before it trades: no fee is paid for a trade that cannot
succeed.

The production app runs on the real Redis and MongoDB, its SDK client on the devnode over a
websocket, for the fixture's funded coldkey. Every case runs live (signing with the key) and
paper (planning for its address): the trade ends in the same state for the same reason, and the
node's pool shows what reached the chain (paper: nothing, ever; live: nothing where skipped).
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from consumers.stake_executor.app import create_app
from offline.devnode.node import DevNode
from offline.devnode.state import RAO_PER_UNIT
from shared.documents import HopRecord, Trade
from shared.events import SentimentScored
from shared.settings import Settings
from tests.pipeline_support import entry, running, wait_for_hop, wait_for_terminal

NETUID = 18
# The funded coldkey holds 100 alpha on HOTKEY at netuid 18, and nothing on UNSTAKED_HOTKEY.
HOTKEY = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"
UNSTAKED_HOTKEY = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
# Every trade is the default fixed amount of 1 TAO; at the fixture's 0.025 TAO per alpha that
# is 40 alpha.
TRADE_RAO = RAO_PER_UNIT
FEE_RAO = 125_000  # the fixture's flat fee per extrinsic
BULLISH, BEARISH = 80, -80


@pytest.fixture(params=["live", "paper"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def executor_settings(settings: Settings, node: DevNode, mode: str) -> Settings:
    """The stake-executor on the devnode, trading for the funded coldkey in ``mode``."""
    key = node.key("funded")
    wallet: dict[str, Any] = (
        {"wallet_mnemonic": SecretStr(key.mnemonic)}
        if mode == "live"
        else {"wallet_address": key.address}
    )
    return Settings(
        **{
            **settings.model_dump(),
            "bittensor_network": node.url,
            "chain_timeout_seconds": 10,
            "trading_mode": mode,
            **wallet,
        },
        _env_file=None,
    )


async def trade(
    redis: Redis, settings: Settings, trade_id: str, score: int, hotkey: str = HOTKEY
) -> tuple[Trade, HopRecord]:
    """Run the stake-executor on one scored trade; the trade and its hop record once it ended."""
    scored = SentimentScored(
        trade_id=trade_id,
        trace_id=f"trace-{trade_id}",
        netuid=NETUID,
        hotkey=hotkey,
        score=score,
        scorer="vader",
        tweet_count=2,
    )
    async with running(create_app(settings)):
        await redis.xadd(settings.stream_sentiment_scored, entry(scored))
        ended = await wait_for_terminal(trade_id, within=60)
        record = await wait_for_hop(trade_id, within=60)
    return ended, record


def extrinsics(node: DevNode) -> list[tuple[str, dict[str, Any]]]:
    """What the node's pool accepted: call name and arguments, in order."""
    return [(tx.call_name, tx.args) for tx in node.accepted]


def alpha_for(node: DevNode, tao_rao: int) -> int:
    return tao_rao * RAO_PER_UNIT // node.state.subnets[NETUID].price


async def test_a_remove_without_a_position_is_skipped_and_pays_no_fee(
    node: DevNode, redis: Redis, executor_settings: Settings, mode: str
) -> None:
    """Negative sentiment on a hotkey the coldkey holds nothing on: skipped, no_position, no
    extrinsic, the free balance untouched."""
    address = node.key("funded").address
    free = node.state.free(address)

    ended, record = await trade(redis, executor_settings, "nopos-1", BEARISH, UNSTAKED_HOTKEY)

    assert ended.state == "skipped"
    assert ended.outcome is not None
    assert ended.outcome["skip_reason"] == "no_position"
    assert ended.outcome["position_alpha_rao"] == 0
    assert "holds no alpha" in ended.outcome["reason"]
    assert (ended.outcome["submitted"], ended.outcome["fee_rao"]) == (False, None)
    assert record.summary["skip_reason"] == "no_position"
    assert extrinsics(node) == []
    assert node.state.free(address) == free


async def test_a_remove_larger_than_the_position_unstakes_the_position(
    node: DevNode, redis: Redis, executor_settings: Settings, mode: str
) -> None:
    """10 alpha held, 40 asked: the whole position is unstaked, and the hop says it was capped
    to the position."""
    address = node.key("funded").address
    held = 10 * RAO_PER_UNIT
    await node.set_stake(HOTKEY, address, NETUID, held)
    free, price, fee = (
        node.state.free(address),
        node.state.subnets[NETUID].price,
        node.state.transaction_fee_rao,
    )

    ended, record = await trade(redis, executor_settings, "partial-1", BEARISH)

    assert ended.state == "executed"
    assert ended.outcome is not None
    assert ended.outcome["skip_reason"] is None
    assert ended.outcome["amount_alpha_rao"] == held
    assert ended.outcome["capped_from_alpha_rao"] == alpha_for(node, TRADE_RAO)
    assert ended.outcome["position_alpha_rao"] == held
    assert "capped to the position" in ended.outcome["reason"]
    assert record.summary["capped_from_alpha_rao"] == alpha_for(node, TRADE_RAO)
    assert record.summary["amount_alpha_rao"] == held
    if mode == "live":
        [(call, args)] = extrinsics(node)
        assert (call, args["amount_unstaked"]) == ("SubtensorModule.remove_stake_limit", held)
        assert ended.outcome["extrinsic_id"] is not None
        assert node.state.stake(HOTKEY, address, NETUID) == 0
        assert node.state.free(address) == free + held * price // RAO_PER_UNIT - fee
    else:
        assert extrinsics(node) == []
        assert ended.outcome["fee_rao"] == fee
        assert node.state.stake(HOTKEY, address, NETUID) == held


async def test_a_remove_within_the_position_unstakes_the_amount(
    node: DevNode, redis: Redis, executor_settings: Settings, mode: str
) -> None:
    """100 alpha held, 40 asked: 40 alpha unstaked, nothing capped."""
    address = node.key("funded").address
    held = node.state.stake(HOTKEY, address, NETUID)
    wanted = alpha_for(node, TRADE_RAO)
    assert held > wanted

    ended, record = await trade(redis, executor_settings, "full-1", BEARISH)

    assert ended.state == "executed"
    assert ended.outcome is not None
    assert ended.outcome["skip_reason"] is None
    assert ended.outcome["amount_alpha_rao"] == wanted
    assert ended.outcome["capped_from_alpha_rao"] is None
    assert ended.outcome["position_alpha_rao"] == held
    assert "capped" not in ended.outcome["reason"]
    assert record.summary["position_alpha_rao"] == held
    if mode == "live":
        [(call, args)] = extrinsics(node)
        assert (call, args["amount_unstaked"]) == ("SubtensorModule.remove_stake_limit", wanted)
        assert node.state.stake(HOTKEY, address, NETUID) == held - wanted
    else:
        assert extrinsics(node) == []
        assert node.state.stake(HOTKEY, address, NETUID) == held


@pytest.mark.parametrize(
    "free",
    [0, FEE_RAO, TRADE_RAO, TRADE_RAO + FEE_RAO - 1],
    ids=["empty", "the-fee-only", "the-amount-only", "one-rao-short"],
)
async def test_an_add_the_free_balance_cannot_cover_is_skipped_and_pays_no_fee(
    node: DevNode, redis: Redis, executor_settings: Settings, mode: str, free: int
) -> None:
    """Positive sentiment with less free TAO than 1 TAO plus the fee: skipped,
    insufficient_balance, no extrinsic, the balance untouched."""
    assert node.state.transaction_fee_rao == FEE_RAO
    address = node.key("funded").address
    await node.set_balance(address, free)
    staked = node.state.stake(HOTKEY, address, NETUID)

    ended, record = await trade(redis, executor_settings, "poor-1", BULLISH)

    assert ended.state == "skipped"
    assert ended.outcome is not None
    assert ended.outcome["skip_reason"] == "insufficient_balance"
    assert ended.outcome["free_rao"] == free
    assert ended.outcome["fee_rao"] == node.state.transaction_fee_rao
    assert "does not cover 1 TAO plus the fee" in ended.outcome["reason"]
    assert ended.outcome["submitted"] is False
    assert record.summary["skip_reason"] == "insufficient_balance"
    assert extrinsics(node) == []
    assert node.state.free(address) == free
    assert node.state.stake(HOTKEY, address, NETUID) == staked


async def test_an_add_the_free_balance_just_covers_is_staked(
    node: DevNode, redis: Redis, executor_settings: Settings, mode: str
) -> None:
    """Exactly 1 TAO plus the fee free: the add goes ahead (live: staked, the account emptied)."""
    address = node.key("funded").address
    fee = node.state.transaction_fee_rao
    await node.set_balance(address, TRADE_RAO + fee)

    ended, _ = await trade(redis, executor_settings, "exact-1", BULLISH)

    assert ended.state == "executed"
    assert ended.outcome is not None
    assert (ended.outcome["skip_reason"], ended.outcome["free_rao"]) == (None, TRADE_RAO + fee)
    if mode == "live":
        [(call, args)] = extrinsics(node)
        assert (call, args["amount_staked"]) == ("SubtensorModule.add_stake_limit", TRADE_RAO)
        assert node.state.free(address) == 0
    else:
        assert extrinsics(node) == []
        assert node.state.free(address) == TRADE_RAO + fee
