"""The unmodified SDK against the devnode over a websocket: reads, stake extrinsics, faults.

Amounts are checked exactly against the fixture: alpha = tao * 1e9 // price when staking,
tao = alpha * price // 1e9 when unstaking, and the flat fee on every included extrinsic.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from hashlib import blake2b
from pathlib import Path
from typing import Any

import bittensor
import pytest
from bittensor.sp_core import Keypair
from websockets.asyncio.client import connect

from offline.devnode.blocks import Block
from offline.devnode.faults import Faults
from offline.devnode.node import DevNode
from offline.devnode.state import RAO_PER_UNIT

HOTKEY = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"
UNKNOWN_HOTKEY = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy"
NETUID = 18
DIVIDENDS = ("SubtensorModule", "RootAlphaDividendsPerSubnet")
REPO = Path(__file__).resolve().parents[3]


def sealed_block(node: DevNode, number: int) -> Block:
    block = node.chain.by_number(number)
    assert block is not None, f"no block #{number}"
    return block


def fee(node: DevNode) -> int:
    return node.state.transaction_fee_rao


def price(node: DevNode, netuid: int = NETUID) -> int:
    return node.state.subnets[netuid].price


def add_stake(tao_rao: int, netuid: int = NETUID) -> bittensor.AddStake:
    return bittensor.AddStake(
        hotkey_ss58=HOTKEY, netuid=netuid, amount_tao=bittensor.Balance.from_rao(tao_rao)
    )


def remove_stake(alpha_rao: int, netuid: int = NETUID) -> bittensor.RemoveStake:
    return bittensor.RemoveStake(
        hotkey_ss58=HOTKEY,
        netuid=netuid,
        amount_alpha=bittensor.Balance.from_rao(alpha_rao, netuid),
    )


async def rpc(url: str, method: str, *params: Any) -> Any:
    """One raw JSON-RPC call, for the node's own admin methods."""
    async with connect(url) as ws:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        answer = json.loads(await ws.recv())
    if "error" in answer:
        raise RuntimeError(answer["error"])
    return answer["result"]


# --- reads ---


async def test_reads_one_root_dividend(node: DevNode, client: bittensor.Client) -> None:
    expected = node.fixture.state.root_dividends[(NETUID, HOTKEY)]
    assert await client.query(DIVIDENDS, [NETUID, HOTKEY]) == expected


async def test_reads_a_whole_subnet_with_query_map(node: DevNode, client: bittensor.Client) -> None:
    rows = await client.query_map(DIVIDENDS, [NETUID])
    expected = {
        hotkey: value
        for (netuid, hotkey), value in node.fixture.state.root_dividends.items()
        if netuid == NETUID
    }
    assert dict(rows) == expected
    assert len(rows) == len(expected) == 3
    # The map for another netuid is another key prefix: nothing of subnet 18 leaks in.
    assert dict(await client.query_map(DIVIDENDS, [0])) == {HOTKEY: 5_000_000}


async def test_an_unknown_hotkey_reads_zero(client: bittensor.Client) -> None:
    assert await client.query(DIVIDENDS, [NETUID, UNKNOWN_HOTKEY]) == 0


async def test_reads_the_alpha_price_and_token_symbols(
    node: DevNode, client: bittensor.Client
) -> None:
    quote = await client.prices.alpha_price(NETUID)
    assert quote["price_rao"] == price(node) == 25_000_000
    runtime_api = bittensor.runtime_api.SwapRuntimeApi.current_alpha_price
    assert await client.runtime(runtime_api, [0]) == RAO_PER_UNIT
    assert client.token_symbols == {0: "τ", NETUID: "σ"}


async def test_block_numbers_and_hashes_agree_across_methods(
    node: DevNode, client: bittensor.Client
) -> None:
    await node.produce_block()
    head = await client.block()
    assert await client.finalized_block() == head
    sealed, parent = sealed_block(node, head), sealed_block(node, head - 1)
    info, parent_info = await client.block_info(head), await client.block_info(head - 1)
    assert info is not None
    assert parent_info is not None
    assert (info.hash, parent_info.hash) == (sealed.hash, parent.hash)
    assert sealed.parent_hash == parent.hash
    # Every block opens with its Timestamp.set inherent.
    assert info.extrinsics[0]["call"]["call_module"] == "Timestamp"
    assert int(info.timestamp.timestamp() * 1000) == sealed.timestamp_ms


async def test_raw_block_methods_agree(node: DevNode) -> None:
    """chain_getBlockHash, chain_getHeader, chain_getBlock and chain_getFinalizedHead agree."""
    quiet = DevNode(metadata=node.runtime, block_ms=0)  # no timer: the head stays put
    async with quiet as url:
        await quiet.produce_block()
        await quiet.produce_block()
        head = await rpc(url, "chain_getFinalizedHead")
        assert await rpc(url, "chain_getBlockHash") == head
        assert await rpc(url, "chain_getBlockHash", 2) == head
        header = await rpc(url, "chain_getHeader", head)
        assert int(header["number"], 16) == 2
        assert (await rpc(url, "chain_getBlock", head))["block"]["header"] == header
        assert header["parentHash"] == await rpc(url, "chain_getBlockHash", 1)
        assert await rpc(url, "chain_getBlockHash", 3) is None
        assert await rpc(url, "chain_getHeader", "0x" + "ab" * 32) is None
        # The hash is the blake2-256 of the SCALE-encoded header, as on a Substrate chain.
        runtime = quiet.runtime
        encoded = runtime.codec.encode(
            runtime.type_by_path("sp_runtime", "generic", "header", "Header"),
            {
                "parent_hash": header["parentHash"],
                "number": 2,
                "state_root": header["stateRoot"],
                "extrinsics_root": header["extrinsicsRoot"],
                "digest": {"logs": []},
            },
        )
        assert "0x" + blake2b(encoded, digest_size=32).hexdigest() == head
        assert await rpc(url, "chain_getBlockHash", 0) == quiet.fixture.genesis_hash
        with pytest.raises(RuntimeError, match="not implemented"):
            await rpc(url, "state_call", "NoSuchApi_method", "0x", None)


async def test_blocks_are_made_on_a_timer(node: DevNode, client: bittensor.Client) -> None:
    start = await client.block()
    header = await client.wait_for_block(start + 2)
    assert header.number >= start + 2


async def test_a_read_pinned_to_an_earlier_block_sees_that_block(
    node: DevNode, client: bittensor.Client
) -> None:
    before = await client.block()
    await node.set_root_dividend(NETUID, HOTKEY, 7)
    assert await client.query(DIVIDENDS, [NETUID, HOTKEY]) == 7
    expected = node.fixture.state.root_dividends[(NETUID, HOTKEY)]
    assert await client.query(DIVIDENDS, [NETUID, HOTKEY], block=before) == expected


# --- stake extrinsics ---


async def test_add_stake_moves_tao_into_alpha(node: DevNode, client: bittensor.Client) -> None:
    key = node.key("funded")
    free, staked = node.state.free(key.address), node.state.stake(HOTKEY, key.address, NETUID)
    tao = RAO_PER_UNIT  # 1 TAO

    result = await client.execute(add_stake(tao), key.keypair())

    assert result.success, result.message
    alpha = tao * RAO_PER_UNIT // price(node)
    assert alpha == 40 * RAO_PER_UNIT
    assert node.state.free(key.address) == free - tao - fee(node)
    assert node.state.stake(HOTKEY, key.address, NETUID) == staked + alpha
    # The SDK's own reads agree with the node.
    assert (await client.balances.get(key.address)).rao == free - tao - fee(node)
    assert (await client.staking.get(key.address, HOTKEY, NETUID)).rao == staked + alpha
    # The result names the block and the extrinsic (index 1: the inherent is index 0).
    assert result.extrinsic_id is not None
    number, index = result.extrinsic_id.split("-")
    assert index == "0001"
    block = sealed_block(node, int(number))
    assert result.block_hash == block.hash
    assert block.extrinsics[1] == node.accepted[-1].data
    assert result.fee is not None
    assert result.fee.rao == fee(node)
    assert node.accepted[-1].call_name == "SubtensorModule.add_stake_limit"


async def test_remove_stake_moves_alpha_back_into_tao(
    node: DevNode, client: bittensor.Client
) -> None:
    key = node.key("funded")
    free, staked = node.state.free(key.address), node.state.stake(HOTKEY, key.address, NETUID)
    alpha = 40 * RAO_PER_UNIT

    result = await client.execute(remove_stake(alpha), key.keypair())

    assert result.success, result.message
    tao = alpha * price(node) // RAO_PER_UNIT
    assert tao == RAO_PER_UNIT
    assert node.state.free(key.address) == free + tao - fee(node)
    assert node.state.stake(HOTKEY, key.address, NETUID) == staked - alpha
    assert result.block_hash is not None
    assert result.extrinsic_id is not None
    assert node.accepted[-1].call_name == "SubtensorModule.remove_stake_limit"


async def test_stake_on_the_root_subnet_is_one_to_one(
    node: DevNode, client: bittensor.Client
) -> None:
    key = node.key("funded")
    staked = node.state.stake(HOTKEY, key.address, 0)
    result = await client.execute(add_stake(3 * RAO_PER_UNIT, netuid=0), key.keypair())
    assert result.success, result.message
    assert node.state.stake(HOTKEY, key.address, 0) == staked + 3 * RAO_PER_UNIT


async def test_successive_submissions_use_successive_nonces(
    node: DevNode, client: bittensor.Client
) -> None:
    key = node.key("funded")
    for _ in range(3):
        assert (await client.execute(add_stake(RAO_PER_UNIT), key.keypair())).success
    assert [tx.nonce for tx in node.accepted] == [0, 1, 2]
    assert node.state.nonce(key.address) == 3


async def test_a_key_that_cannot_afford_the_stake_fails_on_chain(
    node: DevNode, client: bittensor.Client
) -> None:
    """Enough TAO for the fee, not for the stake: included, fee charged, NotEnoughBalanceToStake."""
    key = node.key("fee_only")
    free = node.state.free(key.address)

    result = await client.execute(add_stake(RAO_PER_UNIT), key.keypair())

    assert not result.success
    assert result.error is not None
    assert result.error.name == "NotEnoughBalanceToStake"
    assert result.extrinsic_id is not None  # it is in a block
    assert node.state.free(key.address) == free - fee(node)
    assert node.state.stake(HOTKEY, key.address, NETUID) == 0


async def test_an_unfunded_key_is_refused_by_the_pool(
    node: DevNode, client: bittensor.Client
) -> None:
    """No TAO at all, not even for the fee: refused at submission, never in a block."""
    keypair = Keypair.create_from_mnemonic(Keypair.generate_mnemonic())

    result = await client.execute(add_stake(RAO_PER_UNIT), keypair)

    assert not result.success
    assert result.error is not None
    assert result.error.name == "Payment"
    assert result.extrinsic_id is None
    assert node.accepted == []


async def test_unstaking_more_than_is_staked_fails_on_chain(
    node: DevNode, client: bittensor.Client
) -> None:
    key = node.key("funded")
    staked = node.state.stake(HOTKEY, key.address, NETUID)
    result = await client.execute(remove_stake(staked + 1), key.keypair())
    assert not result.success
    assert result.error is not None
    assert result.error.name == "NotEnoughStakeToWithdraw"
    assert node.state.stake(HOTKEY, key.address, NETUID) == staked


async def test_a_limit_price_below_the_spot_price_is_not_filled(
    node: DevNode, client: bittensor.Client
) -> None:
    key = node.key("funded")
    staked = node.state.stake(HOTKEY, key.address, NETUID)
    call = bittensor.calls.SubtensorModule.add_stake_limit(
        hotkey=HOTKEY,
        netuid=NETUID,
        amount_staked=RAO_PER_UNIT,
        limit_price=price(node) - 1,
        allow_partial=False,
    )
    result = await client.submit_call(call, key.keypair())
    assert not result.success
    assert result.error is not None
    assert result.error.name == "SlippageTooHigh"
    assert node.state.stake(HOTKEY, key.address, NETUID) == staked


async def test_plan_changes_nothing_on_the_node(node: DevNode, client: bittensor.Client) -> None:
    key = node.key("funded")
    before = node.state.to_json()

    add = await client.plan(add_stake(RAO_PER_UNIT), key.keypair())
    remove = await client.plan(remove_stake(RAO_PER_UNIT), key.keypair())

    assert add.ok
    assert remove.ok
    assert add.fee is not None
    assert add.fee.rao == fee(node)
    assert node.accepted == []
    assert node.state.to_json() == before


# --- faults ---


async def test_a_dropped_connection_is_the_sdks_connection_error(
    node: DevNode, client: bittensor.Client
) -> None:
    """Every storage read closes the socket: the SDK reconnects, gives up, and says so."""
    node.set_faults(Faults(drop_requests=-1, methods=("state_getStorageAt",)))
    async with asyncio.timeout(60):  # a guard against hanging, not a measurement
        with pytest.raises(bittensor.RpcConnectionError):
            await client.query(DIVIDENDS, [NETUID, HOTKEY])


async def test_a_single_dropped_request_is_retried_transparently(
    node: DevNode, client: bittensor.Client
) -> None:
    node.set_faults(Faults(drop_requests=1, methods=("state_getStorageAt",)))
    expected = node.fixture.state.root_dividends[(NETUID, HOTKEY)]
    assert await client.query(DIVIDENDS, [NETUID, HOTKEY]) == expected
    assert node.faults.faults.drop_requests == 0


async def test_an_rpc_error_is_a_chain_error(node: DevNode, client: bittensor.Client) -> None:
    node.set_faults(Faults(error_requests=1, methods=("state_getStorageAt",)))
    with pytest.raises(bittensor.ChainError, match="injected failure"):
        await client.query(DIVIDENDS, [NETUID, HOTKEY])
    # The next read is answered normally.
    assert await client.query(DIVIDENDS, [NETUID, UNKNOWN_HOTKEY]) == 0


async def test_refused_connections_fail_the_connect(node: DevNode) -> None:
    node.set_faults(Faults(refuse_connections=True))
    sdk = bittensor.Client(node.url, fallback_endpoints=[], archive_endpoints=[])
    with pytest.raises(bittensor.RpcConnectionError, match="503"):
        await sdk.connect()
    await sdk.close()


async def test_injected_extrinsic_failure_is_reported_with_its_name(
    node: DevNode, client: bittensor.Client
) -> None:
    key = node.key("funded")
    free = node.state.free(key.address)
    node.set_faults(Faults(fail_extrinsics="SlippageTooHigh"))
    result = await client.execute(add_stake(RAO_PER_UNIT), key.keypair())
    assert not result.success
    assert result.error is not None
    assert result.error.name == "SlippageTooHigh"
    assert node.state.free(key.address) == free - fee(node)


async def test_injected_pool_rejection(node: DevNode, client: bittensor.Client) -> None:
    node.set_faults(Faults(reject_extrinsics="Transaction has a bad signature"))
    result = await client.execute(add_stake(RAO_PER_UNIT), node.key("funded").keypair())
    assert not result.success
    assert result.error is not None
    assert result.error.name == "BadProof"


async def test_admin_methods_over_the_wire(node: DevNode, client: bittensor.Client) -> None:
    faults = await rpc(node.url, "devnode_setFaults", {"latency_ms": 5, "methods": ["system_name"]})
    assert faults["latency_ms"] == 5
    assert (await rpc(node.url, "devnode_getFaults"))["methods"] == ["system_name"]
    await rpc(node.url, "devnode_setRootDividend", NETUID, UNKNOWN_HOTKEY, 99)
    assert await client.query(DIVIDENDS, [NETUID, UNKNOWN_HOTKEY]) == 99
    await rpc(node.url, "devnode_setStake", HOTKEY, UNKNOWN_HOTKEY, NETUID, 7)
    assert (await client.staking.get(UNKNOWN_HOTKEY, HOTKEY, NETUID)).rao == 7
    await rpc(node.url, "devnode_setStake", HOTKEY, UNKNOWN_HOTKEY, NETUID, 0)
    assert (await client.staking.get(UNKNOWN_HOTKEY, HOTKEY, NETUID)).rao == 0
    assert (HOTKEY, UNKNOWN_HOTKEY, NETUID) not in node.state.stakes
    await rpc(node.url, "devnode_setAlphaPrice", NETUID, 50_000_000)
    assert (await client.prices.alpha_price(NETUID))["price_rao"] == 50_000_000
    state = await rpc(node.url, "devnode_state")
    assert state["block"] == node.head.number
    methods = (await rpc(node.url, "rpc_methods"))["methods"]
    assert "author_submitAndWatchExtrinsic" in methods


# --- as a process ---


def test_runs_as_a_process_and_stops_on_sigterm() -> None:
    """``python -m offline.devnode`` logs where it listens as JSON, serves, and stops on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "offline.devnode", "--port", "0", "--block-ms", "100"],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "LOG_FORMAT": "json"},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        url = None
        for line in process.stdout:
            event = json.loads(line)
            if event["event"] == "devnode.listening":
                url = event["url"]
                break
        assert url is not None, "the devnode never said where it listens"
        assert asyncio.run(rpc(url, "system_name")) == "subtensor-devnode"
        process.send_signal(signal.SIGTERM)
        rest = [json.loads(line) for line in process.stdout.read().splitlines()]
        assert process.wait(timeout=30) == 0
        assert "devnode.stopped" in [event["event"] for event in rest]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
