"""An in-memory implementation of ``bittensor.Substrate``: the SDK's documented test seam.

``bittensor.Client(network, substrate=FakeSubstrate(...))`` runs the real SDK above the
transport (snapshots, typed reads, item descriptors) against state held here. Like a real
node's codec, a storage item that is not in this runtime's "metadata" raises the SDK's own
``StorageFunctionNotFound`` before any read happens. Reads are counted per item, and failures
or latency can be injected, so tests can assert how often, and how, the chain was used.

Free balances (``System.Account``) and stakes (``StakeInfoRuntimeApi``) are what the stake
executor checks before a trade; they are seeded (``fund``, ``set_stake``) and, unlike the
devnode's, do not move with submissions: the fake records what was submitted, it runs nothing.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import bittensor
from bittensor import ExtrinsicResult
from bittensor._transport.errors import StorageFunctionNotFound

Key = tuple[Any, ...]
ItemName = tuple[str, str]

ROOT_DIVIDENDS: ItemName = ("SubtensorModule", "RootAlphaDividendsPerSubnet")
OLD_TAO_DIVIDENDS: ItemName = ("SubtensorModule", "TaoDividendsPerSubnet")
NETWORKS_ADDED: ItemName = ("SubtensorModule", "NetworksAdded")
TOKEN_SYMBOL: ItemName = ("SubtensorModule", "TokenSymbol")
SYSTEM_ACCOUNT: ItemName = ("System", "Account")
ALPHA_PRICE: ItemName = ("SwapRuntimeApi", "current_alpha_price")
STAKE_INFO: ItemName = ("StakeInfoRuntimeApi", "get_stake_info_for_hotkey_coldkey_netuid")
# What ``seeded`` gives each trader: free TAO, and alpha on each hotkey (rao).
TRADER_FREE_RAO = 1_000_000 * 1_000_000_000
TRADER_STAKE_RAO = 1_000 * 1_000_000_000


@dataclass(frozen=True)
class FakeCall:
    """A composed call as the fake keeps it: readable, so tests can assert on it."""

    module: str
    function: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Submission:
    signer: str
    call: FakeCall


class FakeSubstrate:
    """Chain state in dictionaries; a head block that advances when told to."""

    def __init__(self, *, dividend_item: ItemName = ROOT_DIVIDENDS, block: int = 1000) -> None:
        self.token_symbols: dict[int, str] = {}
        self.block = block
        # The items this runtime's metadata has; anything else is "not found".
        self.items: set[ItemName] = {dividend_item, NETWORKS_ADDED, TOKEN_SYMBOL, SYSTEM_ACCOUNT}
        self.storage: dict[ItemName, dict[Key, Any]] = {item: {} for item in self.items}
        self.prices: dict[int, int] = {}
        # (hotkey, coldkey, netuid) -> alpha rao
        self.stakes: dict[tuple[str, str, int], int] = {}
        self.reads: Counter[ItemName] = Counter()
        self.failure: Exception | None = None
        self.latency = 0.0
        self.connects = 0
        self.connected = False
        self.fee_rao = 125_000
        self.nonces: dict[str, int] = {}
        self.submissions: list[Submission] = []
        # When set, every submission is included but fails with this module error name.
        self.submit_error: str | None = None

    # --- seeding ---
    def add_subnet(self, netuid: int, *, price_rao: int | None = None) -> None:
        self.storage[NETWORKS_ADDED][(netuid,)] = True
        if price_rao is not None:
            self.prices[netuid] = price_rao

    def set_dividend(
        self, netuid: int, hotkey: str, value: int, item: ItemName = ROOT_DIVIDENDS
    ) -> None:
        self.storage[item][(netuid, hotkey)] = value

    def fund(self, address: str, free_rao: int) -> None:
        self.storage[SYSTEM_ACCOUNT][(address,)] = _account(free_rao)

    def set_stake(self, hotkey: str, coldkey: str, netuid: int, alpha_rao: int) -> None:
        self.stakes[(hotkey, coldkey, netuid)] = alpha_rao

    # --- Substrate protocol: lifecycle ---
    def balance(self, rao: int, netuid: int = 0) -> bittensor.Balance:
        return bittensor.Balance(int(rao), netuid, self.token_symbols.get(netuid))

    async def connect(self) -> None:
        await self._enter()
        self.connects += 1
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    # --- reads ---
    async def block_hash(self, block: int | None = None) -> str:
        await self._enter()
        return f"0x{(self.block if block is None else block):064x}"

    async def block_number(self) -> int:
        await self._enter()
        return self.block

    async def finalized_block_number(self) -> int:
        return await self.block_number()

    async def spec_version(self) -> int:
        return 448

    async def query(
        self,
        module: str,
        storage_function: str,
        params: list[Any] | None = None,
        block_hash: str | None = None,
    ) -> Any:
        values = await self._item((module, storage_function))
        return values.get(tuple(params or []), _default(storage_function))

    async def query_map(
        self,
        module: str,
        storage_function: str,
        params: list[Any] | None = None,
        block_hash: str | None = None,
    ) -> list[tuple[Any, Any]]:
        values = await self._item((module, storage_function))
        prefix = tuple(params or [])
        rows = [
            (key[len(prefix) :], value)
            for key, value in values.items()
            if key[: len(prefix)] == prefix
        ]
        return [(rest[0] if len(rest) == 1 else rest, value) for rest, value in rows]

    async def query_batch(
        self,
        module: str,
        storage_function: str,
        param_sets: list[list[Any]],
        block_hash: str | None = None,
    ) -> list[Any]:
        return [
            await self.query(module, storage_function, params, block_hash) for params in param_sets
        ]

    async def runtime_call(
        self, api: str, method: str, params: Any, block_hash: str | None = None
    ) -> Any:
        await self._enter()
        self.reads[(api, method)] += 1
        if (api, method) == ALPHA_PRICE:
            return self.prices.get(int(params[0]))
        if (api, method) == STAKE_INFO:
            return self._stake_info(str(params[0]), str(params[1]), int(params[2]))
        raise bittensor.ChainError(f"runtime API {api}.{method} is not served by the fake")

    # --- calls and submissions ---
    async def compose(self, call: Any) -> FakeCall:
        module, function, params = call
        return FakeCall(module, function, dict(params))

    async def estimate_fee(self, call: Any, keypair: Any) -> bittensor.Balance:
        await self._enter()
        return bittensor.Balance.from_rao(self.fee_rao)

    async def account_next_index(self, address: str) -> int:
        return self.nonces.get(address, 0)

    async def submit(
        self,
        call: FakeCall,
        keypair: Any,
        *,
        nonce: int | None = None,
        period: int | None = None,
        wait_for_inclusion: bool = True,
        wait_for_finalization: bool = True,
    ) -> ExtrinsicResult:
        await self._enter()
        self.submissions.append(Submission(keypair.ss58_address, call))
        self.nonces[keypair.ss58_address] = self.nonces.get(keypair.ss58_address, 0) + 1
        self.block += 1
        error = self.submit_error
        extrinsic_id = f"{self.block}-0001"
        if error is not None:
            return ExtrinsicResult(
                success=False,
                message=error,
                block_hash=await self.block_hash(),
                extrinsic_id=extrinsic_id,
                error=bittensor.ChainError(error, error),
            )
        return ExtrinsicResult(
            success=True,
            message="Success",
            block_hash=await self.block_hash(),
            extrinsic_id=extrinsic_id,
            fee=bittensor.Balance.from_rao(self.fee_rao),
        )

    # --- internals ---
    def _stake_info(self, hotkey: str, coldkey: str, netuid: int) -> dict[str, Any] | None:
        """``StakeInfo`` as the runtime API answers it; None where nothing is staked."""
        alpha = self.stakes.get((hotkey, coldkey, netuid))
        if alpha is None:
            return None
        return {
            "hotkey": hotkey,
            "coldkey": coldkey,
            "netuid": netuid,
            "stake": alpha,
            "locked": 0,
            "emission": 0,
            "tao_emission": 0,
            "drain": 0,
            "is_registered": True,
        }

    async def _enter(self) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.failure is not None:
            raise self.failure

    async def _item(self, item: ItemName) -> dict[Key, Any]:
        if item not in self.items:
            raise StorageFunctionNotFound(f"Storage function {item[0]}.{item[1]} not found")
        await self._enter()
        self.reads[item] += 1
        return self.storage.setdefault(item, {})


def _default(storage_function: str) -> Any:
    """An item's value where nothing is stored, as a node's codec defaults it."""
    if storage_function == "Account":
        return _account(0)
    return False if storage_function == "NetworksAdded" else 0


def _account(free_rao: int) -> dict[str, Any]:
    """``System.Account``'s ``AccountInfo`` holding ``free_rao``."""
    data = {"free": free_rao, "reserved": 0, "frozen": 0, "flags": 0}
    return {"nonce": 0, "consumers": 0, "providers": 1, "sufficients": 0, "data": data}


def client_factory(substrate: FakeSubstrate) -> Callable[[], bittensor.Client]:
    """What ``create_app(chain_factory=...)`` takes: a new SDK client on the fake per call."""
    # The fake implements the part of the protocol that the service uses.
    return lambda: bittensor.Client("local", substrate=cast(bittensor.Substrate, substrate))


def seeded(
    hotkeys: Iterable[str],
    *,
    netuid: int = 18,
    price_rao: int = 2_000_000_000,
    traders: Iterable[str] = (),
) -> FakeSubstrate:
    """A runtime with one subnet at ``price_rao`` and dividends 1e9, 2e9, ... for ``hotkeys``;
    each of ``traders`` (coldkeys) holds ``TRADER_FREE_RAO`` free and ``TRADER_STAKE_RAO`` alpha
    on each hotkey, far more than any trade of a test or a bench moves."""
    hotkeys = list(hotkeys)
    substrate = FakeSubstrate()
    substrate.add_subnet(0)
    substrate.add_subnet(netuid, price_rao=price_rao)
    for index, hotkey in enumerate(hotkeys, start=1):
        substrate.set_dividend(netuid, hotkey, index * 1_000_000_000)
    for trader in traders:
        substrate.fund(trader, TRADER_FREE_RAO)
        for hotkey in hotkeys:
            substrate.set_stake(hotkey, trader, netuid, TRADER_STAKE_RAO)
    return substrate
