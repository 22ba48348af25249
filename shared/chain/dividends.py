"""Root-dividend reads, with the storage item chosen from the connected runtime's metadata.

``TaoDividendsPerSubnet`` (rao of TAO) was removed from the runtime (spec 334) and later
succeeded by ``RootAlphaDividendsPerSubnet`` (rao of the subnet's alpha), with the same keys.
The reader tries the candidates newest first; the SDK builds the storage key from the runtime
metadata and raises ``StorageFunctionNotFound`` for an item the runtime does not have, before
any request is sent. The first candidate that exists is remembered until a read says it has gone
(a runtime upgrade). A missing item is an error, never a dividend of 0.

Values are read at one pinned block together with the alpha price, so the TAO estimate
(``alpha * price // 1e9``) is consistent with the raw value it is derived from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any, TypeVar

import bittensor
from bittensor._transport.errors import StorageFunctionNotFound

from shared.chain.client import ChainClient
from shared.errors import DividendItemMissing, NotFound
from shared.logging import get_logger

T = TypeVar("T")
log = get_logger(__name__)

RAO_PER_UNIT = 1_000_000_000
ROOT_NETUID = 0  # on the root subnet alpha is TAO, 1:1


class Unit(StrEnum):
    """What a raw dividend integer counts. 1e9 of either is one whole token."""

    ALPHA_RAO = "alpha_rao"  # rao of the alpha of the subnet the value belongs to
    TAO_RAO = "tao_rao"


@dataclass(frozen=True, slots=True)
class DividendItem:
    pallet: str
    name: str
    unit: Unit

    @property
    def descriptor(self) -> tuple[str, str]:
        return (self.pallet, self.name)

    @property
    def qualified_name(self) -> str:
        return f"{self.pallet}.{self.name}"


# Newest first. Both are double maps keyed (netuid: u16, hotkey: AccountId32).
DIVIDEND_ITEMS: tuple[DividendItem, ...] = (
    DividendItem("SubtensorModule", "RootAlphaDividendsPerSubnet", Unit.ALPHA_RAO),
    DividendItem("SubtensorModule", "TaoDividendsPerSubnet", Unit.TAO_RAO),
)
_NETWORKS_ADDED = bittensor.storage.SubtensorModule.NetworksAdded
_ALPHA_PRICE = bittensor.runtime_api.SwapRuntimeApi.current_alpha_price


@dataclass(frozen=True, slots=True)
class DividendEntry:
    netuid: int
    hotkey: str
    dividend: int
    tao_estimate_rao: int | None


@dataclass(frozen=True, slots=True)
class DividendReading:
    """Dividends read at one block from one storage item."""

    block: int
    item: DividendItem
    entries: tuple[DividendEntry, ...]
    netuids: tuple[int, ...]
    next_cursor: int | None = None


class DividendReader:
    """Reads root dividends for one entry, one subnet, or a page of subnets."""

    def __init__(self, chain: ChainClient, items: Sequence[DividendItem] = DIVIDEND_ITEMS) -> None:
        self._chain = chain
        self._items = tuple(items)
        self._selected: DividendItem | None = None

    async def one(self, netuid: int, hotkey: str) -> DividendReading:
        async def read(view: bittensor.Snapshot) -> DividendReading:
            await _require_subnet(view, netuid)
            item, value = await self._with_item(
                lambda i: view.query(i.descriptor, [netuid, hotkey])
            )
            prices = await _prices(view, [netuid])
            entry = _entry(item, netuid, hotkey, int(value or 0), prices)
            return DividendReading(view.block, item, (entry,), (netuid,))

        return await self._chain.call(lambda client: _pinned(client, read))

    async def subnet(self, netuid: int) -> DividendReading:
        async def read(view: bittensor.Snapshot) -> DividendReading:
            await _require_subnet(view, netuid)
            item, rows = await self._with_item(partial(_subnet_rows, view, netuid))
            prices = await _prices(view, [netuid])
            entries = tuple(
                _entry(item, netuid, str(hotkey), int(value or 0), prices) for hotkey, value in rows
            )
            return DividendReading(view.block, item, entries, (netuid,))

        return await self._chain.call(lambda client: _pinned(client, read))

    async def subnets(self, cursor: int, limit: int) -> DividendReading:
        """Subnets with netuid >= ``cursor``, at most ``limit`` of them, in netuid order."""

        async def read(view: bittensor.Snapshot) -> DividendReading:
            added = await view.query_map(_NETWORKS_ADDED)
            existing = sorted(int(netuid) for netuid, present in added if present)
            page = [netuid for netuid in existing if netuid >= cursor][: limit + 1]
            netuids, more = page[:limit], page[limit:]
            prices = await _prices(view, netuids)
            entries: list[DividendEntry] = []
            item = self._selected or self._items[0]
            for netuid in netuids:
                item, rows = await self._with_item(partial(_subnet_rows, view, netuid))
                entries.extend(
                    _entry(item, netuid, str(hotkey), int(value or 0), prices)
                    for hotkey, value in rows
                )
            next_cursor = more[0] if more else None
            return DividendReading(view.block, item, tuple(entries), tuple(netuids), next_cursor)

        return await self._chain.call(lambda client: _pinned(client, read))

    async def _with_item(
        self, read: Callable[[DividendItem], Awaitable[T]]
    ) -> tuple[DividendItem, T]:
        """Run ``read`` with the remembered item, or find the first the runtime has."""
        candidates = [self._selected] if self._selected else []
        candidates += [item for item in self._items if item != self._selected]
        for item in candidates:
            try:
                result = await read(item)
            except StorageFunctionNotFound:
                continue
            if item != self._selected:
                log.info("chain.dividend_item_selected", item=item.qualified_name, unit=item.unit)
                self._selected = item
            return item, result
        self._selected = None
        raise DividendItemMissing(
            "the connected runtime has none of the root-dividend storage items: "
            + ", ".join(item.qualified_name for item in self._items)
        )


async def _pinned(
    client: bittensor.Client, read: Callable[[bittensor.Snapshot], Awaitable[T]]
) -> T:
    return await read(await client.at())


async def _subnet_rows(
    view: bittensor.Snapshot, netuid: int, item: DividendItem
) -> list[tuple[Any, Any]]:
    return await view.query_map(item.descriptor, [netuid])


async def _require_subnet(view: bittensor.Snapshot, netuid: int) -> None:
    if not await view.query(_NETWORKS_ADDED, [netuid]):
        raise NotFound(f"subnet {netuid} does not exist", field="netuid")


async def _prices(view: bittensor.Snapshot, netuids: Sequence[int]) -> dict[int, int | None]:
    """Spot alpha price (rao of TAO per alpha) per subnet; None where it cannot be read."""

    async def price(netuid: int) -> int | None:
        if netuid == ROOT_NETUID:
            return RAO_PER_UNIT
        try:
            value = await view.runtime(_ALPHA_PRICE, [netuid])
        except bittensor.ChainError as error:
            log.info("chain.price_unavailable", netuid=netuid, error=str(error))
            return None
        return int(value) if value is not None else None

    return dict(zip(netuids, await asyncio.gather(*(price(n) for n in netuids)), strict=True))


def _entry(
    item: DividendItem, netuid: int, hotkey: str, value: int, prices: dict[int, int | None]
) -> DividendEntry:
    if item.unit is Unit.TAO_RAO:
        estimate: int | None = value
    else:
        price = prices.get(netuid)
        estimate = value * price // RAO_PER_UNIT if price is not None else None
    return DividendEntry(netuid=netuid, hotkey=hotkey, dividend=value, tao_estimate_rao=estimate)
