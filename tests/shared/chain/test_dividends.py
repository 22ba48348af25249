"""DividendReader through the real SDK client on the Substrate seam."""

from __future__ import annotations

import bittensor
import pytest

from offline.substrate import (
    OLD_TAO_DIVIDENDS,
    ROOT_DIVIDENDS,
    FakeSubstrate,
    client_factory,
    seeded,
)
from shared.chain import ChainClient, DividendReader, Unit
from shared.errors import ChainUnavailable, DividendItemMissing, NotFound
from tests.conftest import HOTKEY, OTHER_HOTKEY


def reader_for(substrate: FakeSubstrate) -> DividendReader:
    return DividendReader(ChainClient(client_factory(substrate), timeout=2, retry_after=5))


async def test_current_runtimes_are_read_from_root_alpha_dividends_in_alpha() -> None:
    """RootAlphaDividendsPerSubnet is chosen when the runtime has it; its unit is alpha rao."""
    reading = await reader_for(seeded([HOTKEY])).one(18, HOTKEY)
    assert reading.item.name == "RootAlphaDividendsPerSubnet"
    assert reading.item.unit is Unit.ALPHA_RAO
    assert [e.dividend for e in reading.entries] == [1_000_000_000]


async def test_old_runtimes_are_read_from_tao_dividends_in_tao() -> None:
    """On a runtime without the successor, the old item is read and its unit is TAO rao."""
    substrate = FakeSubstrate(dividend_item=OLD_TAO_DIVIDENDS)
    substrate.add_subnet(3)
    substrate.set_dividend(3, HOTKEY, 9, item=OLD_TAO_DIVIDENDS)
    reading = await reader_for(substrate).one(3, HOTKEY)
    assert reading.item.name == "TaoDividendsPerSubnet"
    assert reading.item.unit is Unit.TAO_RAO
    assert reading.entries[0].tao_estimate_rao == 9


async def test_a_runtime_with_neither_item_is_an_error_not_a_zero() -> None:
    """Between spec 334 and 352 neither map existed: that is reported, never answered as 0."""
    substrate = FakeSubstrate()
    substrate.items.discard(ROOT_DIVIDENDS)
    substrate.add_subnet(18)
    with pytest.raises(DividendItemMissing):
        await reader_for(substrate).one(18, HOTKEY)


async def test_a_runtime_upgrade_that_changes_the_item_is_followed() -> None:
    """The remembered item is dropped as soon as the runtime says it no longer exists."""
    substrate = seeded([HOTKEY])
    reader = reader_for(substrate)
    assert (await reader.one(18, HOTKEY)).item.name == "RootAlphaDividendsPerSubnet"
    substrate.items = {OLD_TAO_DIVIDENDS, ("SubtensorModule", "NetworksAdded")}
    substrate.storage[OLD_TAO_DIVIDENDS] = {(18, HOTKEY): 5}
    assert (await reader.one(18, HOTKEY)).item.name == "TaoDividendsPerSubnet"


async def test_the_tao_estimate_uses_the_price_at_the_same_block() -> None:
    """estimate = alpha * price // 1e9, per entry, with the subnet's spot price."""
    substrate = seeded([HOTKEY, OTHER_HOTKEY], price_rao=1_500_000_000)
    reading = await reader_for(substrate).subnet(18)
    assert {(e.hotkey, e.tao_estimate_rao) for e in reading.entries} == {
        (HOTKEY, 1_500_000_000),
        (OTHER_HOTKEY, 3_000_000_000),
    }
    assert reading.block == substrate.block


async def test_without_a_price_the_estimate_is_absent_not_zero() -> None:
    """A subnet whose price cannot be read gets no TAO estimate; the raw value still stands."""
    substrate = seeded([HOTKEY])
    substrate.prices.clear()
    [entry] = (await reader_for(substrate).one(18, HOTKEY)).entries
    assert entry.dividend == 1_000_000_000
    assert entry.tao_estimate_rao is None


async def test_a_subnet_that_does_not_exist_is_not_found() -> None:
    """Unknown subnets are NotFound on the netuid field."""
    with pytest.raises(NotFound) as raised:
        await reader_for(seeded([HOTKEY])).subnet(99)
    assert raised.value.field == "netuid"


async def test_pages_of_subnets_follow_netuid_order() -> None:
    """subnets(cursor, limit) answers `limit` existing subnets from `cursor` and the next cursor."""
    substrate = seeded([HOTKEY])
    for netuid in (5, 7, 30):
        substrate.add_subnet(netuid)
    reader = reader_for(substrate)
    first = await reader.subnets(0, 2)
    second = await reader.subnets(first.next_cursor or 0, 2)
    third = await reader.subnets(second.next_cursor or 0, 2)
    assert (first.netuids, first.next_cursor) == ((0, 5), 7)
    assert (second.netuids, second.next_cursor) == ((7, 18), 30)
    assert (third.netuids, third.next_cursor) == ((30,), None)
    assert [e.hotkey for e in second.entries] == [HOTKEY]


@pytest.mark.parametrize(
    "failure",
    [bittensor.ChainError("read failed"), bittensor.RpcConnectionError("socket closed"), OSError()],
)
async def test_chain_failures_become_chain_unavailable(failure: Exception) -> None:
    """Any read or transport failure is ChainUnavailable with a Retry-After hint."""
    substrate = seeded([HOTKEY])
    reader = reader_for(substrate)
    substrate.failure = failure
    with pytest.raises(ChainUnavailable) as raised:
        await reader.one(18, HOTKEY)
    assert raised.value.retry_after == 5
