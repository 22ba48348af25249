"""The MongoDB documents: indexes that make records unique, created idempotently."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import DuplicateKeyError

from shared.documents import HopRecord, StakeClaim, Trade, init_documents, mongo_client


@pytest.fixture
async def database(mongodb_url: str, mongodb_database: str) -> AsyncIterator[str]:
    client: AsyncMongoClient[dict[str, object]] = mongo_client(mongodb_url, 5)
    await init_documents(client, mongodb_database)
    yield mongodb_database
    await client.close()


async def test_initialising_twice_is_harmless(mongodb_url: str, database: str) -> None:
    """Every process initialises the documents at start; the second time changes nothing."""
    client: AsyncMongoClient[dict[str, object]] = mongo_client(mongodb_url, 5)
    await init_documents(client, database)
    cursor = await Trade.get_pymongo_collection().list_indexes()
    names = {info["name"] for info in await cursor.to_list()}
    await client.close()
    assert "trade_id_1" in names


async def test_a_trade_id_is_recorded_once(database: str) -> None:
    """A second trade with the same id is refused by the unique index."""
    await Trade(trade_id="t-1", trace_id="x", netuid=1, hotkey="h", requested_by="r").insert()
    with pytest.raises(DuplicateKeyError):
        await Trade(trade_id="t-1", trace_id="y", netuid=1, hotkey="h", requested_by="r").insert()


async def test_a_hop_of_a_trade_is_recorded_once(database: str) -> None:
    """(trade id, hop) is unique: a redelivery updates the hop's record instead of adding one."""
    await HopRecord(trade_id="t-1", hop="tweet-fetcher", entry_id="1-0", consumer="c").insert()
    with pytest.raises(DuplicateKeyError):
        await HopRecord(trade_id="t-1", hop="tweet-fetcher", entry_id="2-0", consumer="c").insert()


async def test_a_trade_can_be_claimed_for_staking_once(database: str) -> None:
    """The stake claim's unique trade id is what stops a second extrinsic."""
    await StakeClaim(trade_id="t-1", consumer="a").insert()
    with pytest.raises(DuplicateKeyError):
        await StakeClaim(trade_id="t-1", consumer="b").insert()
