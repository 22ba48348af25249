"""The offline Desearch answers the tweet-fetcher's real client as Desearch does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date

import httpx
import pytest

from consumers.tweet_fetcher.desearch import DesearchClient, DesearchError
from offline.desearch import MAX_COUNT, create_app

BASE = "http://desearch.offline"
START, END = date(2026, 12, 1), date(2026, 12, 7)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app())) as client:
        yield client


def desearch(http: httpx.AsyncClient, key: str = "dt_$offline") -> DesearchClient:
    return DesearchClient(
        BASE, key, timeout_seconds=5, max_attempts=1, backoff_seconds=0, client=http
    )


async def test_the_real_client_reads_tweets_about_the_subnet_it_asked_for(
    http: httpx.AsyncClient,
) -> None:
    """A search for netuid 7 reads tweets that talk about subnet 7, parsed by our client."""
    tweets = await desearch(http).search(
        "Bittensor netuid 7", start_date=START, end_date=END, lang="en", count=3
    )
    assert len(tweets) == 3
    assert all("7" in tweet.text for tweet in tweets)
    assert len({tweet.id for tweet in tweets}) == 3


async def test_a_request_without_a_key_is_refused_as_desearch_refuses_it(
    http: httpx.AsyncClient,
) -> None:
    """No Authorization header: 401 with an error object."""
    response = await http.get(f"{BASE}/twitter", params={"query": "q"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing API key"}


@pytest.mark.parametrize(
    "params",
    [{}, {"query": " "}, {"query": "q", "count": "0"}, {"query": "q", "count": str(MAX_COUNT + 1)},
     {"query": "q", "count": "ten"}, {"query": "q", "sort": "Oldest"}],
)  # fmt: skip
async def test_parameters_outside_the_api_are_refused(
    http: httpx.AsyncClient, params: dict[str, str]
) -> None:
    """A missing query, a count outside 1..100 or an unknown sort is a 422 with a reason."""
    response = await http.get(f"{BASE}/twitter", params=params, headers={"Authorization": "k"})
    assert response.status_code == 422
    assert response.json()["detail"]


async def test_answers_carry_desearchs_cost_headers(http: httpx.AsyncClient) -> None:
    """Each answer says what it cost, in the headers the real API sends."""
    response = await http.get(
        f"{BASE}/twitter", params={"query": "netuid 1"}, headers={"Authorization": "k"}
    )
    assert response.status_code == 200
    assert response.headers["X-Desearch-Cost-Usd"] == "0"
    assert isinstance(response.json(), list)


async def test_an_error_body_is_an_object_which_the_client_does_not_take_for_tweets(
    http: httpx.AsyncClient,
) -> None:
    """On a refusal the body is an object, not a list, and the client raises rather than parse."""
    client = DesearchClient(
        BASE, "k", timeout_seconds=5, max_attempts=1, backoff_seconds=0, client=http
    )
    with pytest.raises(DesearchError):
        await client.search("  ", start_date=START, end_date=END, lang="en", count=1)
