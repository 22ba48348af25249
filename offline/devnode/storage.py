"""Chain state as a node stores it: SCALE keys and values, built with the SDK's own codec.

The SDK reads storage by key (``state_getStorageAt``) and walks maps by key prefix
(``state_getKeysPaged`` + ``state_queryStorageAt``), so the devnode must hold the exact bytes a
subtensor node would: hashed keys from ``RuntimeCodec.storage_key`` and values from
``RuntimeCodec.encode`` of each item's value type. A key that is not stored reads as null, which
the SDK turns into the item's default (0 for a dividend), as on a real node.

Served items: ``System.Account``, ``System.Number``, ``System.Events``, ``Timestamp.Now``, and
from ``SubtensorModule``: ``NetworksAdded``, ``TotalNetworks``, ``TokenSymbol``,
``RootAlphaDividendsPerSubnet``, ``TotalHotkeyAlpha``, ``StakingHotkeys``. Stake per
(hotkey, coldkey, netuid) is answered by the ``StakeInfoRuntimeApi`` calls rather than the
share-based ``Alpha`` map, which is what the SDK reads stake through.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from offline.devnode.metadata import Runtime
from offline.devnode.state import ChainState

# AccountData.flags with the "new logic" bit set, as every account on a current runtime has.
ACCOUNT_FLAGS_NEW_LOGIC = 1 << 127


class StorageView:
    """The raw storage of one block: the state's items plus the block's own (events, number)."""

    def __init__(self, base: Mapping[bytes, bytes], block_items: Mapping[bytes, bytes]) -> None:
        self._items: dict[bytes, bytes] = {**base, **block_items}
        self._sorted: list[bytes] = sorted(self._items)

    def get(self, key: bytes) -> bytes | None:
        return self._items.get(key)

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return ((key, self._items[key]) for key in self._sorted)

    def keys_paged(self, prefix: bytes, count: int, start_key: bytes | None) -> list[bytes]:
        """Keys under ``prefix``, in order, strictly after ``start_key``: ``state_getKeysPaged``."""
        # Sorted keys sharing a prefix are contiguous, starting where the prefix would sort.
        if start_key is not None and start_key >= prefix:
            index = bisect.bisect_right(self._sorted, start_key)
        else:
            index = bisect.bisect_left(self._sorted, prefix)
        keys: list[bytes] = []
        for key in self._sorted[index:]:
            if len(keys) >= count or not key.startswith(prefix):
                break
            keys.append(key)
        return keys


class StorageWriter:
    """Encodes (item, params, value) triples into raw key/value pairs with the codec."""

    def __init__(self, runtime: Runtime) -> None:
        self._codec = runtime.codec
        self.items: dict[bytes, bytes] = {}

    def put(self, pallet: str, name: str, params: list[Any], value: Any) -> None:
        entry = self._codec.storage_entry(pallet, name)
        key = self._codec.storage_key(entry, params)
        self.items[key] = self._codec.encode(entry.value_type, value)


def render_state(runtime: Runtime, state: ChainState) -> dict[bytes, bytes]:
    """The raw storage items of ``state``."""
    out = StorageWriter(runtime)
    for address, account in state.accounts.items():
        out.put(
            "System",
            "Account",
            [address],
            {
                "nonce": account.nonce,
                "consumers": 0,
                "providers": 1,
                "sufficients": 0,
                "data": {
                    "free": account.free,
                    "reserved": 0,
                    "frozen": 0,
                    "flags": ACCOUNT_FLAGS_NEW_LOGIC,
                },
            },
        )
    for netuid, subnet in state.subnets.items():
        out.put("SubtensorModule", "NetworksAdded", [netuid], True)
        out.put("SubtensorModule", "TokenSymbol", [netuid], list(subnet.token_symbol.encode()))
    out.put("SubtensorModule", "TotalNetworks", [], len(state.subnets))
    for (netuid, hotkey), value in state.root_dividends.items():
        out.put("SubtensorModule", "RootAlphaDividendsPerSubnet", [netuid, hotkey], value)
    hotkey_totals: dict[tuple[str, int], int] = defaultdict(int)
    staking_hotkeys: dict[str, list[str]] = defaultdict(list)
    for (hotkey, coldkey, netuid), alpha in sorted(state.stakes.items()):
        hotkey_totals[(hotkey, netuid)] += alpha
        if hotkey not in staking_hotkeys[coldkey]:
            staking_hotkeys[coldkey].append(hotkey)
    for (hotkey, netuid), total in hotkey_totals.items():
        out.put("SubtensorModule", "TotalHotkeyAlpha", [hotkey, netuid], total)
    for coldkey, hotkeys in staking_hotkeys.items():
        out.put("SubtensorModule", "StakingHotkeys", [coldkey], hotkeys)
    return out.items


def render_block_items(
    runtime: Runtime, number: int, timestamp_ms: int, events: list[dict[str, Any]]
) -> dict[bytes, bytes]:
    """The items every block writes for itself: its number, its time and its events."""
    out = StorageWriter(runtime)
    out.put("System", "Number", [], number)
    out.put("Timestamp", "Now", [], timestamp_ms)
    out.put("System", "Events", [], events)
    return out.items
