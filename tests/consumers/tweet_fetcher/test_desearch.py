"""The Desearch client against a real HTTP server on 127.0.0.1 speaking Desearch's format."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from consumers.tweet_fetcher.desearch import (
    DesearchAuthError,
    DesearchClient,
    DesearchError,
    DesearchUnavailable,
    build_query,
    search_window,
)
from shared.events import Tweet
from shared.logging import configure_logging
from shared.settings import Settings

# Not in the dt_$ form the log redaction recognises, so a leak would show.
KEY = "test-desearch-key-0123456789"
MAX_ATTEMPTS = 3

# A tweet as Desearch answers it, with fields we do not keep and one we have never seen.
TWEET: dict[str, Any] = {
    "id": "1892527552029499853",
    "text": "Subnet 18 on Bittensor keeps shipping",
    "url": "https://x.com/taofan/status/1892527552029499853",
    "created_at": "Thu Feb 20 10:51:44 +0000 2025",
    "lang": "en",
    "reply_count": 3,
    "retweet_count": 5,
    "like_count": 42,
    "quote_count": 1,
    "bookmark_count": 2,
    "view_count": 1234,
    "is_retweet": False,
    "is_quote_tweet": False,
    "entities": {"hashtags": [{"text": "bittensor"}], "urls": []},
    "media": [],
    "user": {
        "id": "1500000000000000000",
        "username": "taofan",
        "name": "Tao Fan",
        "followers_count": 1200,
        "verified": False,
        "is_blue_verified": True,
        "profile_image_url": "https://pbs.twimg.com/x.jpg",
    },
    "conversation_id": "1892527552029499853",
}


@pytest.fixture
async def desearch(httpserver: HTTPServer) -> AsyncIterator[DesearchClient]:
    client = DesearchClient(
        httpserver.url_for("/"),
        KEY,
        timeout_seconds=2,
        max_attempts=MAX_ATTEMPTS,
        backoff_seconds=0,
    )
    yield client
    await client.aclose()


async def search(client: DesearchClient) -> list[Tweet]:
    return await client.search(
        "Bittensor netuid 18",
        start_date=date(2025, 2, 13),
        end_date=date(2025, 2, 20),
        lang="en",
        count=20,
    )


async def test_a_search_is_a_get_on_twitter_with_the_raw_key_and_the_filters(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """GET /twitter carries the key as-is (no Bearer) and the filters as query parameters."""
    httpserver.expect_request("/twitter").respond_with_json([])
    await search(desearch)
    [(request, _)] = httpserver.log
    assert request.method == "GET"
    assert request.headers["Authorization"] == KEY
    assert request.args.to_dict() == {
        "query": "Bittensor netuid 18",
        "sort": "Latest",
        "start_date": "2025-02-13",
        "end_date": "2025-02-20",
        "lang": "en",
        "count": "20",
    }


async def test_tweets_are_mapped_and_fields_we_do_not_keep_are_ignored(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """Each tweet becomes a Tweet with an aware created_at and the author's username."""
    httpserver.expect_request("/twitter").respond_with_json([TWEET])
    [tweet] = await search(desearch)
    assert tweet == Tweet(
        id="1892527552029499853",
        text="Subnet 18 on Bittensor keeps shipping",
        url="https://x.com/taofan/status/1892527552029499853",
        created_at=datetime(2025, 2, 20, 10, 51, 44, tzinfo=UTC),
        username="taofan",
        like_count=42,
        retweet_count=5,
    )
    assert tweet.created_at is not None
    assert tweet.created_at.utcoffset() == timedelta(0)


async def test_no_tweets_found_is_an_empty_list(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """An empty array is a valid answer: no tweets, not an error."""
    httpserver.expect_request("/twitter").respond_with_json([])
    assert await search(desearch) == []


async def test_entries_without_id_or_text_are_skipped_not_fatal(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """Entries that cannot be a Tweet are dropped; the others are still returned."""
    other = {**TWEET, "id": 7, "user": None}
    httpserver.expect_request("/twitter").respond_with_json(
        [TWEET, {"text": "no id"}, {"id": "1"}, "not a tweet", other]
    )
    tweets = await search(desearch)
    assert [(t.id, t.username) for t in tweets] == [(TWEET["id"], "taofan"), ("7", None)]


async def test_a_server_error_is_retried_until_the_search_succeeds(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """A 5xx is retried, and the next answer is used."""
    httpserver.expect_oneshot_request("/twitter").respond_with_data("bad gateway", status=502)
    httpserver.expect_request("/twitter").respond_with_json([TWEET])
    assert [t.id for t in await search(desearch)] == [TWEET["id"]]
    assert len(httpserver.log) == 2


async def test_a_rate_limit_is_retried_after_the_retry_after_delay(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """A 429 is retried, no sooner than its Retry-After seconds."""
    httpserver.expect_oneshot_request("/twitter").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "1"}
    )
    httpserver.expect_request("/twitter").respond_with_json([])
    started = time.monotonic()
    assert await search(desearch) == []
    assert time.monotonic() - started >= 1
    assert len(httpserver.log) == 2


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_key_is_an_auth_error_without_retry(
    httpserver: HTTPServer, desearch: DesearchClient, status: int
) -> None:
    """401 and 403 raise DesearchAuthError, not retryable, after exactly one request."""
    httpserver.expect_request("/twitter").respond_with_json(
        {"detail": "Invalid API key"}, status=status
    )
    with pytest.raises(DesearchAuthError, match="Invalid API key") as raised:
        await search(desearch)
    assert not raised.value.retryable
    assert len(httpserver.log) == 1


async def test_other_client_errors_are_permanent_without_retry(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """Any other 4xx is a DesearchError that is not retryable, after exactly one request."""
    httpserver.expect_request("/twitter").respond_with_json(
        {"detail": "count must be at most 100"}, status=422
    )
    with pytest.raises(DesearchError, match="count must be at most 100") as raised:
        await search(desearch)
    assert type(raised.value) is DesearchError
    assert not raised.value.retryable
    assert len(httpserver.log) == 1


async def test_a_server_failing_every_attempt_is_unavailable_after_max_attempts(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """5xx on every attempt raises DesearchUnavailable (retryable) after max_attempts requests."""
    httpserver.expect_request("/twitter").respond_with_data("down", status=503)
    with pytest.raises(DesearchUnavailable) as raised:
        await search(desearch)
    assert raised.value.retryable
    assert len(httpserver.log) == MAX_ATTEMPTS


async def test_an_error_object_instead_of_tweets_is_a_desearch_error(
    httpserver: HTTPServer, desearch: DesearchClient
) -> None:
    """A 200 whose body is an object, not a list, is a DesearchError quoting its message."""
    httpserver.expect_request("/twitter").respond_with_json({"error": "query is required"})
    with pytest.raises(DesearchError, match="query is required") as raised:
        await search(desearch)
    assert not raised.value.retryable


async def test_a_server_slower_than_the_timeout_is_unavailable(httpserver: HTTPServer) -> None:
    """Each attempt is cut off at the timeout; when all are, the search is unavailable."""
    released = threading.Event()

    def stall(_request: Request) -> Response:
        released.wait(timeout=5)
        return Response("[]", content_type="application/json")

    httpserver.expect_request("/twitter").respond_with_handler(stall)
    client = DesearchClient(
        httpserver.url_for("/"), KEY, timeout_seconds=0.1, max_attempts=2, backoff_seconds=0
    )
    try:
        with pytest.raises(DesearchUnavailable, match="Timeout"):
            await search(client)
    finally:
        await client.aclose()
        released.set()
    # Once released, the server answers the stalled requests; wait for that, so that no other
    # test sees them. The log is filled on the server's thread: there is no event to await.
    async with asyncio.timeout(5):
        while len(httpserver.log) < 2:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    assert len(httpserver.log) == 2


async def test_a_server_that_cannot_be_reached_is_unavailable() -> None:
    """Connection failures are retried like 5xx and end as DesearchUnavailable."""
    client = DesearchClient(
        "http://127.0.0.1:1", KEY, timeout_seconds=1, max_attempts=2, backoff_seconds=0
    )
    try:
        with pytest.raises(DesearchUnavailable, match="ConnectError"):
            await search(client)
    finally:
        await client.aclose()


@pytest.mark.parametrize(
    ("status", "error"), [(401, DesearchAuthError), (400, DesearchError), (200, DesearchError)]
)
async def test_the_key_never_appears_in_errors_or_logs(
    httpserver: HTTPServer,
    desearch: DesearchClient,
    capsys: pytest.CaptureFixture[str],
    status: int,
    error: type[DesearchError],
) -> None:
    """Even an error body quoting the key yields a message and log lines without it."""
    configure_logging("INFO", "json")
    httpserver.expect_request("/twitter").respond_with_json(
        {"detail": f"key {KEY} is not valid"}, status=status
    )
    with pytest.raises(error) as raised:
        await search(desearch)
    assert "[redacted]" in str(raised.value)
    assert KEY not in str(raised.value)
    assert KEY not in capsys.readouterr().out


async def test_outcomes_and_retries_are_logged_with_the_cost(
    httpserver: HTTPServer, desearch: DesearchClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """desearch.retry is logged per retry, then desearch.searched with the cost header."""
    configure_logging("INFO", "json")
    httpserver.expect_oneshot_request("/twitter").respond_with_data("down", status=500)
    httpserver.expect_request("/twitter").respond_with_json(
        [TWEET], headers={"X-Desearch-Cost-Usd": "0.0003"}
    )
    await search(desearch)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    events = {line["event"]: line for line in lines if line["event"].startswith("desearch.")}
    assert events["desearch.retry"]["failure"] == "HTTP 500"
    assert {k: events["desearch.searched"][k] for k in ("count", "status", "attempts")} == {
        "count": 1,
        "status": 200,
        "attempts": 2,
    }
    assert events["desearch.searched"]["cost_usd"] == "0.0003"


async def test_settings_build_a_working_client(httpserver: HTTPServer) -> None:
    """from_settings takes the base URL, key and limits from the settings."""
    httpserver.expect_request("/twitter").respond_with_json([TWEET])
    settings = Settings(
        _env_file=None, desearch_base_url=httpserver.url_for("/"), desearch_api_key=KEY
    )
    client = DesearchClient.from_settings(settings)
    try:
        assert len(await search(client)) == 1
    finally:
        await client.aclose()
    assert httpserver.log[0][0].headers["Authorization"] == KEY


def test_settings_without_a_key_are_refused() -> None:
    """No DESEARCH_API_KEY is an auth error at construction, not a failure per search."""
    with pytest.raises(DesearchAuthError, match="DESEARCH_API_KEY"):
        DesearchClient.from_settings(Settings(_env_file=None, desearch_api_key=None))


def test_the_query_template_takes_the_netuid() -> None:
    """The template's {netuid} is replaced by the subnet's number."""
    assert build_query("Bittensor netuid {netuid}", 18) == "Bittensor netuid 18"


def test_the_search_window_is_in_utc_dates_ending_today() -> None:
    """The window ends on today's UTC date, whatever the caller's offset, and spans `days`."""
    evening_in_new_york = datetime(2025, 2, 20, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert search_window(evening_in_new_york, 7) == (date(2025, 2, 14), date(2025, 2, 21))
