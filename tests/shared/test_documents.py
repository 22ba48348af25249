"""The MongoDB documents: keys that make records unique, and indexes that follow the code."""

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


async def index_names(document: type[Trade] | type[HopRecord]) -> set[str]:
    cursor = await document.get_pymongo_collection().list_indexes()
    return {info["name"] for info in await cursor.to_list()}


async def test_initialising_twice_is_harmless(mongodb_url: str, database: str) -> None:
    """Every process initialises the documents at start; the second time changes nothing."""
    before = await index_names(Trade)
    client: AsyncMongoClient[dict[str, object]] = mongo_client(mongodb_url, 5)
    await init_documents(client, database)
    after = await index_names(Trade)
    await client.close()
    assert before == after
    assert "state_1_requested_at_-1" in after


async def test_an_index_no_longer_declared_is_dropped(mongodb_url: str, database: str) -> None:
    """A unique index left by an earlier version would refuse today's inserts: it goes."""
    await Trade.get_pymongo_collection().create_index("trade_id", unique=True)
    client: AsyncMongoClient[dict[str, object]] = mongo_client(mongodb_url, 5)
    await init_documents(client, database)
    names = await index_names(Trade)
    await client.close()
    assert "trade_id_1" not in names
    assert "_id_" in names


async def test_a_trade_id_is_recorded_once(database: str) -> None:
    """A second trade with the same id is refused: the trade id is the record's _id."""
    await Trade(id="t-1", trace_id="x", netuid=1, hotkey="h", requested_by="r").insert()
    with pytest.raises(DuplicateKeyError):
        await Trade(id="t-1", trace_id="y", netuid=1, hotkey="h", requested_by="r").insert()


async def test_a_hop_of_a_trade_is_recorded_once(database: str) -> None:
    """(trade id, hop) is the key: a redelivery updates the hop's record instead of adding one."""
    key = HopRecord.key("t-1", "tweet-fetcher")
    await HopRecord(
        id=key, trade_id="t-1", hop="tweet-fetcher", entry_id="1-0", consumer="c"
    ).insert()
    with pytest.raises(DuplicateKeyError):
        await HopRecord(
            id=key, trade_id="t-1", hop="tweet-fetcher", entry_id="2-0", consumer="c"
        ).insert()


async def test_a_trade_can_be_claimed_for_staking_once(database: str) -> None:
    """The stake claim keyed by trade id is what stops a second extrinsic."""
    await StakeClaim(id="t-1", consumer="a").insert()
    with pytest.raises(DuplicateKeyError):
        await StakeClaim(id="t-1", consumer="b").insert()
