"""The devnode's chain state as plain Python values, and the fixture file it starts from.

State is kept as the domain says it (balances, stakes, prices, dividends) rather than as raw
storage, because the extrinsics the devnode applies are written against the domain; the raw
key/value view the SDK reads is rendered from it by ``storage.py`` with the SDK's codec.

Every block owns one ``ChainState`` and never changes it after sealing: a block that changes
something starts from a ``copy()`` of its parent's state. Reads at an old block hash therefore
see that block's state, as on a real node.

The fixture (``data/fixture.json`` by default) is readable JSON: subnets with their
alpha price and token symbol, root dividends per (netuid, hotkey), free balances per coldkey,
and stakes per (hotkey, coldkey, netuid). Accounts may carry a mnemonic: the fixture's are
throwaway development keys, and say so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bittensor.sp_core import Keypair, ss58_decode

RAO_PER_UNIT = 1_000_000_000
ROOT_NETUID = 0
DEFAULT_FIXTURE = Path(__file__).with_name("data") / "fixture.json"


@dataclass
class Account:
    free: int
    nonce: int = 0


@dataclass(frozen=True)
class Subnet:
    netuid: int
    alpha_price_rao: int
    token_symbol: str

    @property
    def price(self) -> int:
        """Rao of TAO per whole alpha; on the root subnet alpha is TAO, 1:1."""
        return RAO_PER_UNIT if self.netuid == ROOT_NETUID else self.alpha_price_rao


# (hotkey, coldkey, netuid)
StakeKey = tuple[str, str, int]


@dataclass
class ChainState:
    accounts: dict[str, Account] = field(default_factory=dict)
    subnets: dict[int, Subnet] = field(default_factory=dict)
    hotkeys: set[str] = field(default_factory=set)
    # (netuid, hotkey) -> alpha rao, as in SubtensorModule.RootAlphaDividendsPerSubnet
    root_dividends: dict[tuple[int, str], int] = field(default_factory=dict)
    stakes: dict[StakeKey, int] = field(default_factory=dict)
    transaction_fee_rao: int = 0
    min_stake_rao: int = 0

    def copy(self) -> ChainState:
        return ChainState(
            accounts={address: Account(a.free, a.nonce) for address, a in self.accounts.items()},
            subnets=dict(self.subnets),
            hotkeys=set(self.hotkeys),
            root_dividends=dict(self.root_dividends),
            stakes=dict(self.stakes),
            transaction_fee_rao=self.transaction_fee_rao,
            min_stake_rao=self.min_stake_rao,
        )

    def account(self, address: str) -> Account:
        """The account, created empty on first use (for writes)."""
        return self.accounts.setdefault(address, Account(free=0))

    def free(self, address: str) -> int:
        account = self.accounts.get(address)
        return account.free if account else 0

    def nonce(self, address: str) -> int:
        account = self.accounts.get(address)
        return account.nonce if account else 0

    def stake(self, hotkey: str, coldkey: str, netuid: int) -> int:
        return self.stakes.get((hotkey, coldkey, netuid), 0)

    def add_stake(self, hotkey: str, coldkey: str, netuid: int, alpha: int) -> None:
        key = (hotkey, coldkey, netuid)
        total = self.stakes.get(key, 0) + alpha
        if total:
            self.stakes[key] = total
        else:
            self.stakes.pop(key, None)

    def to_json(self) -> dict[str, Any]:
        """A readable dump (``devnode_state``), in the fixture's own vocabulary."""
        return {
            "accounts": [
                {"address": address, "free_rao": a.free, "nonce": a.nonce}
                for address, a in sorted(self.accounts.items())
            ],
            "subnets": [
                {"netuid": s.netuid, "alpha_price_rao": s.price, "token_symbol": s.token_symbol}
                for s in sorted(self.subnets.values(), key=lambda s: s.netuid)
            ],
            "hotkeys": sorted(self.hotkeys),
            "root_dividends": [
                {"netuid": netuid, "hotkey": hotkey, "alpha_rao": value}
                for (netuid, hotkey), value in sorted(self.root_dividends.items())
            ],
            "stakes": [
                {"hotkey": hotkey, "coldkey": coldkey, "netuid": netuid, "alpha_rao": value}
                for (hotkey, coldkey, netuid), value in sorted(self.stakes.items())
            ],
            "transaction_fee_rao": self.transaction_fee_rao,
            "min_stake_rao": self.min_stake_rao,
        }


@dataclass(frozen=True)
class NamedKey:
    """A fixture account with a known mnemonic (a throwaway development key)."""

    name: str
    address: str
    mnemonic: str

    def keypair(self) -> Keypair:
        return Keypair.create_from_mnemonic(self.mnemonic)


@dataclass(frozen=True)
class Fixture:
    genesis_hash: str
    chain_name: str
    token_symbol: str
    token_decimals: int
    state: ChainState
    keys: dict[str, NamedKey]


class FixtureError(ValueError):
    """The fixture file does not describe a consistent chain."""


def load_fixture(path: Path | str = DEFAULT_FIXTURE) -> Fixture:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise FixtureError(f"cannot read fixture {path}: {error}") from error
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError) as error:
        raise FixtureError(f"fixture {path}: {error}") from error


def _parse(data: dict[str, Any]) -> Fixture:
    chain = data["chain"]
    fees = data.get("fees", {})
    state = ChainState(
        transaction_fee_rao=int(fees.get("transaction_fee_rao", 0)),
        min_stake_rao=int(fees.get("min_stake_rao", 0)),
    )
    for subnet in data["subnets"]:
        netuid = int(subnet["netuid"])
        price = int(subnet.get("alpha_price_rao", RAO_PER_UNIT))
        if price <= 0:
            raise ValueError(f"subnet {netuid}: alpha_price_rao must be positive")
        state.subnets[netuid] = Subnet(netuid, price, str(subnet["token_symbol"]))
    for hotkey in data.get("hotkeys", []):
        state.hotkeys.add(_address(hotkey))
    keys: dict[str, NamedKey] = {}
    for entry in data.get("accounts", []):
        address = _account_address(entry)
        state.accounts[address] = Account(free=int(entry.get("free_rao", 0)))
        if "mnemonic" in entry:
            name = str(entry.get("name") or address)
            keys[name] = NamedKey(name=name, address=address, mnemonic=str(entry["mnemonic"]))
    for row in data.get("root_dividends", []):
        netuid = _existing_netuid(state, row["netuid"])
        hotkey = _address(row["hotkey"])
        state.hotkeys.add(hotkey)
        state.root_dividends[(netuid, hotkey)] = int(row["alpha_rao"])
    for row in data.get("stakes", []):
        netuid = _existing_netuid(state, row["netuid"])
        hotkey = _address(row["hotkey"])
        state.hotkeys.add(hotkey)
        state.add_stake(hotkey, _address(row["coldkey"]), netuid, int(row["alpha_rao"]))
    return Fixture(
        genesis_hash=str(chain["genesis_hash"]),
        chain_name=str(chain.get("name", "Bittensor devnode")),
        token_symbol=str(chain.get("token_symbol", "TAO")),
        token_decimals=int(chain.get("token_decimals", 9)),
        state=state,
        keys=keys,
    )


def _address(value: Any) -> str:
    address = str(value)
    ss58_decode(address)  # raises on anything that is not an SS58 address
    return address


def _account_address(entry: dict[str, Any]) -> str:
    address = _address(entry["address"]) if "address" in entry else None
    if "mnemonic" in entry:
        derived = str(Keypair.create_from_mnemonic(str(entry["mnemonic"])).ss58_address)
        if address is not None and address != derived:
            raise ValueError(f"account {entry.get('name')}: address does not match its mnemonic")
        return derived
    if address is None:
        raise ValueError("an account needs an address or a mnemonic")
    return address


def _existing_netuid(state: ChainState, value: Any) -> int:
    netuid = int(value)
    if netuid not in state.subnets:
        raise ValueError(f"netuid {netuid} is used but not listed under subnets")
    return netuid
