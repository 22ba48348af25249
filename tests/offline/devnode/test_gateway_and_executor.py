"""The repo's own chain code against the devnode: the gateway's dividend reader, the stake executor.

Unlike the seam fake, nothing of the SDK is replaced here: ``ChainClient.for_network`` builds a
plain ``bittensor.Client`` on the devnode's ws:// URL, exactly as the services do.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import bittensor
import pytest
from pydantic import SecretStr

from consumers.stake_executor.executor import PAPER_DEFAULT_ADDRESS, StakeExecutor, StakeOutcome
from offline.devnode.faults import Faults
from offline.devnode.node import DevNode
from offline.devnode.state import RAO_PER_UNIT
from shared.chain import ChainClient, DividendReader, Unit
from shared.errors import ChainUnavailable, NotFound
from shared.events import SkipReason, StakeAction
from shared.settings import Settings, TradingMode

HOTKEY = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"
UNKNOWN_HOTKEY = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy"
NOBODY = UNKNOWN_HOTKEY  # as a coldkey: an account the fixture gives nothing
NETUID = 18


@pytest.fixture
async def chain(node: DevNode) -> AsyncIterator[ChainClient]:
    client = ChainClient.for_network(node.url, timeout=10, retry_after=5)
    yield client
    await client.close()


def executor(chain: ChainClient, **settings: Any) -> StakeExecutor:
    return StakeExecutor(chain, Settings(_env_file=None, **settings))


def live(chain: ChainClient, node: DevNode) -> StakeExecutor:
    mnemonic = SecretStr(node.key("funded").mnemonic)
    return executor(chain, trading_mode="live", wallet_mnemonic=mnemonic)


async def stake(
    executor: StakeExecutor, action: StakeAction, amount_tao: str = "1", hotkey: str = HOTKEY
) -> StakeOutcome:
    """Plan, then submit what is submittable (live only), as the stake-executor hop does."""
    planned = await executor.plan(action, Decimal(amount_tao), netuid=NETUID, hotkey=hotkey)
    return await executor.submit(planned)


def test_a_raw_ws_url_gets_no_public_fallback_or_archive_endpoints(node: DevNode) -> None:
    """``ChainClient.for_network`` takes the SDK's default pools: none for a bare URL."""
    assert bittensor.settings.default_fallback_endpoints(node.url) == []
    assert bittensor.settings.default_archive_endpoints(node.url) == []


# --- the gateway's reads ---


async def test_reads_one_entry_from_the_item_chosen_from_metadata(
    node: DevNode, chain: ChainClient
) -> None:
    reading = await DividendReader(chain).one(NETUID, HOTKEY)
    assert reading.item.name == "RootAlphaDividendsPerSubnet"
    assert reading.item.unit is Unit.ALPHA_RAO
    expected = node.fixture.state.root_dividends[(NETUID, HOTKEY)]
    [entry] = reading.entries
    assert (entry.netuid, entry.hotkey, entry.dividend) == (NETUID, HOTKEY, expected)
    price = node.state.subnets[NETUID].price
    assert entry.tao_estimate_rao == expected * price // RAO_PER_UNIT
    assert node.chain.by_number(reading.block) is not None


async def test_reads_a_whole_subnet(node: DevNode, chain: ChainClient) -> None:
    reading = await DividendReader(chain).subnet(NETUID)
    expected = {
        hotkey: value
        for (netuid, hotkey), value in node.fixture.state.root_dividends.items()
        if netuid == NETUID
    }
    assert {entry.hotkey: entry.dividend for entry in reading.entries} == expected
    assert reading.netuids == (NETUID,)


async def test_an_unknown_hotkey_reads_zero(chain: ChainClient) -> None:
    [entry] = (await DividendReader(chain).one(NETUID, UNKNOWN_HOTKEY)).entries
    assert entry.dividend == 0
    assert entry.tao_estimate_rao == 0


async def test_pages_through_the_subnets_that_exist(chain: ChainClient) -> None:
    reading = await DividendReader(chain).subnets(cursor=0, limit=10)
    assert reading.netuids == (0, NETUID)
    # On the root subnet alpha is TAO: the estimate is the value itself.
    root = [entry for entry in reading.entries if entry.netuid == 0]
    assert [(e.dividend, e.tao_estimate_rao) for e in root] == [(5_000_000, 5_000_000)]


async def test_a_subnet_that_does_not_exist_is_not_found(chain: ChainClient) -> None:
    with pytest.raises(NotFound):
        await DividendReader(chain).one(7, HOTKEY)


async def test_a_slow_node_is_unavailable_not_a_value(node: DevNode) -> None:
    node.set_faults(Faults(latency_ms=5_000, methods=("state_getStorageAt",)))
    chain = ChainClient.for_network(node.url, timeout=0.5, retry_after=5)
    try:
        with pytest.raises(ChainUnavailable):
            await DividendReader(chain).one(NETUID, HOTKEY)
    finally:
        await chain.close()


# --- the stake executor ---


async def test_live_add_stake_submits_and_moves_the_balances(
    node: DevNode, chain: ChainClient
) -> None:
    key = node.key("funded")
    free, staked = node.state.free(key.address), node.state.stake(HOTKEY, key.address, NETUID)
    fee = node.state.transaction_fee_rao

    outcome = await stake(live(chain, node), StakeAction.ADD)

    assert outcome.submitted
    assert outcome.success, outcome.error
    assert outcome.block_hash is not None
    assert outcome.extrinsic_id is not None
    number = int(outcome.extrinsic_id.split("-")[0])
    block = node.chain.by_number(number)
    assert block is not None
    assert block.hash == outcome.block_hash
    assert outcome.fee_rao == fee
    alpha = RAO_PER_UNIT * RAO_PER_UNIT // node.state.subnets[NETUID].price
    assert node.state.free(key.address) == free - RAO_PER_UNIT - fee
    assert node.state.stake(HOTKEY, key.address, NETUID) == staked + alpha


async def test_signers_of_one_coldkey_racing_for_a_nonce_each_stake_once(node: DevNode) -> None:
    """Replicas sign with one coldkey: the pool refuses all but one of a nonce's extrinsics
    (taken in the pool, or already in a block); the losers resubmit with a fresh nonce."""
    chains = [ChainClient.for_network(node.url, timeout=10, retry_after=5) for _ in range(4)]
    try:
        outcomes = await asyncio.gather(
            *(stake(live(chain, node), StakeAction.ADD) for chain in chains)
        )
    finally:
        for chain in chains:
            await chain.close()
    assert [(o.success, o.error) for o in outcomes] == [(True, None)] * 4
    assert len({o.extrinsic_id for o in outcomes}) == 4
    assert len(node.accepted) == 4


async def test_live_remove_stake_unstakes_the_alpha_worth_the_tao(
    node: DevNode, chain: ChainClient
) -> None:
    key = node.key("funded")
    free, staked = node.state.free(key.address), node.state.stake(HOTKEY, key.address, NETUID)
    fee = node.state.transaction_fee_rao
    price = node.state.subnets[NETUID].price

    outcome = await stake(live(chain, node), StakeAction.REMOVE)

    assert outcome.success, outcome.error
    alpha = RAO_PER_UNIT * RAO_PER_UNIT // price
    assert outcome.amount_alpha_rao == alpha
    assert outcome.position_alpha_rao == staked
    assert outcome.capped_from_alpha_rao is None
    assert node.state.stake(HOTKEY, key.address, NETUID) == staked - alpha
    assert node.state.free(key.address) == free + alpha * price // RAO_PER_UNIT - fee


async def test_a_failed_stake_reports_the_chain_error(node: DevNode, chain: ChainClient) -> None:
    node.set_faults(Faults(fail_extrinsics="SlippageTooHigh"))
    outcome = await stake(live(chain, node), StakeAction.ADD)
    assert outcome.submitted
    assert not outcome.success
    assert outcome.error == "SlippageTooHigh"


async def test_paper_mode_plans_and_changes_nothing(node: DevNode, chain: ChainClient) -> None:
    """Without a wallet, paper trades plan for the development account, funded and staked on
    the devnode as on a localnet: both directions planned, with the fee, nothing sent."""
    before = node.state.to_json()
    paper = executor(chain, trading_mode="paper")
    assert paper.mode is TradingMode.PAPER
    assert paper.address == PAPER_DEFAULT_ADDRESS
    assert not paper.submits

    added = await stake(paper, StakeAction.ADD)
    removed = await stake(paper, StakeAction.REMOVE)

    for outcome in (added, removed):
        assert not outcome.submitted
        assert outcome.success, outcome.error
        assert outcome.skip_reason is None
        assert outcome.fee_rao == node.state.transaction_fee_rao
        assert outcome.block_hash is None
    assert added.free_rao == node.state.free(PAPER_DEFAULT_ADDRESS)
    assert removed.position_alpha_rao == node.state.stake(HOTKEY, PAPER_DEFAULT_ADDRESS, NETUID)
    assert node.accepted == []
    assert node.state.to_json() == before


async def test_paper_mode_for_an_account_holding_nothing_plans_no_trade(
    node: DevNode, chain: ChainClient
) -> None:
    """Paper reports what live trading would do for the account: here, a skip either way."""
    paper = executor(chain, trading_mode="paper", wallet_address=NOBODY)

    added = await stake(paper, StakeAction.ADD)
    removed = await stake(paper, StakeAction.REMOVE)

    assert (added.skip_reason, added.free_rao) == (SkipReason.INSUFFICIENT_BALANCE, 0)
    assert (removed.skip_reason, removed.position_alpha_rao) == (SkipReason.NO_POSITION, 0)
    assert (added.submitted, removed.submitted) == (False, False)
    assert node.accepted == []


async def test_paper_mode_with_a_mnemonic_still_submits_nothing(
    node: DevNode, chain: ChainClient
) -> None:
    before = node.state.to_json()
    paper = executor(
        chain, trading_mode="paper", wallet_mnemonic=SecretStr(node.key("funded").mnemonic)
    )
    outcome = await stake(paper, StakeAction.ADD)
    assert not outcome.submitted
    assert outcome.success
    assert node.accepted == []
    assert node.state.to_json() == before
