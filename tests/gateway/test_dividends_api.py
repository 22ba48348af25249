"""GET /api/v1/tao_dividends: query shapes, units, validation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from bittensor.sp_core import ss58_decode, ss58_encode

from offline.substrate import OLD_TAO_DIVIDENDS, ROOT_DIVIDENDS, FakeSubstrate
from shared.settings import Settings
from tests.conftest import HOTKEY, OTHER_HOTKEY, READ_TOKEN
from tests.gateway_client import running_gateway

AUTH = {"Authorization": f"Bearer {READ_TOKEN}"}
HOTKEY_AS_PREFIX_43 = ss58_encode(bytes(ss58_decode(HOTKEY)), 43)


async def get(client: httpx.AsyncClient, **params: Any) -> httpx.Response:
    return await client.get("/api/v1/tao_dividends", params=params, headers=AUTH)


async def test_one_hotkey_answers_its_raw_value_with_unit_block_and_tao_estimate(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """netuid+hotkey answers that one value in alpha rao, the block and a TAO estimate."""
    async with running_gateway(settings, substrate) as client:
        response = await get(client, netuid=18, hotkey=HOTKEY)
    assert response.status_code == 200
    body = response.json()
    assert body["netuid"] == 18
    assert body["hotkey"] == HOTKEY
    assert body["dividend"] == 1_000_000_000
    assert body["unit"] == "alpha_rao"
    assert body["storage_item"] == "SubtensorModule.RootAlphaDividendsPerSubnet"
    assert body["block"] == substrate.block
    assert body["tao_estimate_rao"] == 2_000_000_000  # 1 alpha at 2 TAO per alpha
    assert body["cached"] is False
    assert body["cache_age_seconds"] == pytest.approx(0, abs=1)
    assert body["trade_enqueued"] is False
    assert body["trade_id"] is None
    assert response.headers["x-request-id"]


async def test_unknown_hotkey_on_an_existing_subnet_is_zero(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """A hotkey with no entry reads as the storage default, 0."""
    substrate.storage[("SubtensorModule", "RootAlphaDividendsPerSubnet")].clear()
    async with running_gateway(settings, substrate) as client:
        body = (await get(client, netuid=18, hotkey=HOTKEY)).json()
    assert body["dividend"] == 0
    assert body["entries"] == [
        {"netuid": 18, "hotkey": HOTKEY, "dividend": 0, "tao_estimate_rao": 0}
    ]


async def test_netuid_only_lists_every_hotkey_of_the_subnet_and_their_total(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """netuid alone answers every hotkey with an entry on that subnet."""
    async with running_gateway(settings, substrate) as client:
        body = (await get(client, netuid=18)).json()
    assert body["hotkey"] is None
    assert {(e["hotkey"], e["dividend"]) for e in body["entries"]} == {
        (HOTKEY, 1_000_000_000),
        (OTHER_HOTKEY, 2_000_000_000),
    }
    assert body["dividend"] == 3_000_000_000
    assert body["tao_estimate_rao"] == 6_000_000_000


async def test_netuid_zero_is_the_root_subnet_not_a_missing_value(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """netuid=0 is read like any subnet; on root, alpha is TAO one to one."""
    substrate.set_dividend(0, HOTKEY, 5)
    async with running_gateway(settings, substrate) as client:
        body = (await get(client, netuid=0, hotkey=HOTKEY)).json()
    assert body["netuid"] == 0
    assert body["dividend"] == 5
    assert body["tao_estimate_rao"] == 5


async def test_all_subnets_are_paginated_by_netuid(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """Without netuid the answer covers a page of subnets and points at the next one."""
    for netuid in set(range(1, 40)) - {18}:
        substrate.add_subnet(netuid, price_rao=1_000_000_000)
    async with running_gateway(settings, substrate) as client:
        first = (await get(client)).json()
        second = (await get(client, cursor=first["next_cursor"])).json()
        last = (await get(client, cursor=second["next_cursor"])).json()
    page = settings.subnets_page_size
    assert first["next_cursor"] == page
    assert second["next_cursor"] == 2 * page
    assert last["next_cursor"] is None
    assert first["dividend"] is None  # alpha of different subnets does not add up
    assert {e["netuid"] for e in second["entries"]} == {18}  # the only subnet with entries
    assert second["tao_estimate_rao"] == 6_000_000_000
    assert last["entries"] == []


async def test_a_subnet_that_does_not_exist_is_404(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """An unknown netuid is not found, not a dividend of 0."""
    async with running_gateway(settings, substrate) as client:
        response = await get(client, netuid=77, hotkey=HOTKEY)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "not_found",
        "message": "subnet 77 does not exist",
        "field": "netuid",
    }


async def test_an_old_runtime_is_read_from_tao_dividends_per_subnet_in_tao(
    settings: Settings,
) -> None:
    """On a runtime that still has TaoDividendsPerSubnet, that item is read and its unit is TAO."""
    substrate = FakeSubstrate(dividend_item=OLD_TAO_DIVIDENDS)
    substrate.add_subnet(18, price_rao=3_000_000_000)
    substrate.set_dividend(18, HOTKEY, 42, item=OLD_TAO_DIVIDENDS)
    async with running_gateway(settings, substrate) as client:
        body = (await get(client, netuid=18, hotkey=HOTKEY)).json()
    assert body["storage_item"] == "SubtensorModule.TaoDividendsPerSubnet"
    assert body["unit"] == "tao_rao"
    assert body["dividend"] == 42
    assert body["tao_estimate_rao"] == 42


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"netuid": -1}, "netuid"),
        ({"netuid": "eighteen"}, "netuid"),
        ({"netuid": 70000}, "netuid"),
        ({"netuid": 18, "hotkey": HOTKEY[:-1] + "w"}, "hotkey"),  # checksum broken
        ({"netuid": 18, "hotkey": "not-an-address"}, "hotkey"),
        ({"netuid": 18, "hotkey": HOTKEY_AS_PREFIX_43}, "hotkey"),  # the same key, respelled
        ({"hotkey": HOTKEY}, "netuid"),
        ({"trade": "maybe"}, "trade"),
        ({"trade": "1"}, "trade"),  # the schema's boolean is `true` or `false`
        ({"netuid": "+18"}, "netuid"),  # an integer is a plain decimal literal
        ({"cursor": 65536}, "cursor"),
        ({"netuid": ["18", "19"]}, "netuid"),  # given twice
        ({"netuid": 18, "hotkeys": HOTKEY}, "hotkeys"),  # unknown: a typo must not widen
    ],
)
async def test_bad_parameters_are_422_naming_the_field(
    settings: Settings, substrate: FakeSubstrate, params: dict[str, Any], field: str
) -> None:
    """Invalid input is refused with code invalid_parameter and the field at fault."""
    async with running_gateway(settings, substrate) as client:
        response = await get(client, **params)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_parameter"
    assert error["field"] == field
    assert substrate.reads[ROOT_DIVIDENDS] == 0
