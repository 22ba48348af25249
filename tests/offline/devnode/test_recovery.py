"""Dropped connections over the real SDK: the gateway and the stake-executor recover, and an
extrinsic whose outcome was lost is never submitted again.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from redis.asyncio import Redis

from consumers.stake_executor.app import create_app as stake_executor
from offline.devnode.faults import FOREVER, Faults
from offline.devnode.node import DevNode
from shared.settings import Settings
from tests.conftest import HOTKEY, READ_TOKEN
from tests.gateway_client import running_gateway
from tests.pipeline_support import (
    FAST_RECLAIM,
    entry,
    running,
    sentiment_scored,
    wait_for_terminal,
)

DIVIDENDS = "/api/v1/tao_dividends"


def on_devnode(settings: Settings, node: DevNode, **changes: Any) -> Settings:
    return Settings(
        **{**settings.model_dump(), "bittensor_network": node.url, **changes}, _env_file=None
    )


async def test_the_gateway_answers_503_while_the_node_drops_connections_then_recovers(
    settings: Settings, node: DevNode
) -> None:
    """Connections dropped: 503 chain_unavailable; node back: the same gateway answers again."""
    settings = on_devnode(settings, node, cache_ttl_seconds=1)
    headers = {"X-API-Key": READ_TOKEN}
    async with running_gateway(settings, None) as gateway:
        before = await gateway.get(
            DIVIDENDS, params={"netuid": 18, "hotkey": HOTKEY}, headers=headers
        )
        node.faults.set(Faults(drop_requests=FOREVER, refuse_connections=True))
        during = await gateway.get(DIVIDENDS, params={"netuid": 18}, headers=headers)
        node.faults.clear()
        after = await gateway.get(DIVIDENDS, params={"netuid": 0}, headers=headers)
    assert before.status_code == 200
    assert during.status_code == 503
    assert during.json()["error"]["code"] == "chain_unavailable"
    assert after.status_code == 200


async def test_a_submission_whose_outcome_was_lost_is_not_submitted_again(
    settings: Settings, node: DevNode, redis: Redis
) -> None:
    """The node applies the stake but the connection drops before the result: one stake only,
    and the trade is failed for a human to reconcile instead of being retried blind."""
    funded = node.key("funded")
    coldkey = funded.keypair().ss58_address
    stake_before = node.state.stake(HOTKEY, coldkey, 18)
    settings = on_devnode(
        settings,
        node,
        trading_mode="live",
        wallet_mnemonic=SecretStr(funded.mnemonic),
        chain_timeout_seconds=20,
        **FAST_RECLAIM,
    )
    # Everything after the submission (reading the block with its events) is cut off.
    node.faults.set(Faults(drop_requests=FOREVER, methods=("chain_getBlock",)))
    async with running(stake_executor(settings)):
        await redis.xadd(settings.stream_sentiment_scored, entry(sentiment_scored("lost-1", 70)))
        trade = await wait_for_terminal("lost-1", within=90)
    node.faults.clear()
    staked = node.state.stake(HOTKEY, coldkey, 18) - stake_before
    price = node.state.subnets[18].price
    assert staked == 1_000_000_000 * 1_000_000_000 // price  # exactly one add_stake of 1 TAO
    assert trade.state == "failed"
    assert trade.error is not None
    assert "reconcile" in trade.error
