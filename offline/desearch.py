"""An offline Desearch: ``GET /twitter`` as the real API answers it, from a canned corpus.

``make run-local`` starts it when no ``DESEARCH_API_KEY`` is configured, and the pipeline bench
uses it as a zero-latency Desearch, so the tweet-fetcher runs its live code path (the real
client, its headers, parameters and parsing) with no network. It checks what the real service
checks (an ``Authorization`` key, a ``query``, ``count`` within 1..100, ``sort``) and answers
the same shapes: a JSON array of tweets, an error object on a refusal, the cost headers.

The tweets are about the subnet the query names (``... netuid 18``), so a trade requested for
any subnet reads tweets about that subnet; every answer is encoded once and kept.

Run: ``python -m offline.desearch --port 8090``.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from offline.serve import serve_app

DEFAULT_PORT = 8090
MAX_COUNT = 100
SORTS = frozenset({"Top", "Latest"})
# What Twitter, and so Desearch, writes in created_at.
CREATED_AT = "Thu Feb 20 10:51:44 +0000 2025"
# Upbeat and downbeat lines alike, so a scorer has something to weigh; {n} is the netuid.
CORPUS = (
    "Subnet {n} shipped a great release today, bullish on the team",
    "Validators on SN{n} report steady emissions and happy miners",
    "Bittensor netuid {n} keeps improving, impressive progress this week",
    "Some miners on SN{n} complain about weight copying again",
    "Netuid {n} dashboard is live, clean work",
)
_NETUID = re.compile(r"(\d+)\s*$")


def tweet(index: int, text: str) -> dict[str, Any]:
    """One tweet in Desearch's shape (the fields the API documents, extra ones included)."""
    tweet_id = str(1000 + index)
    return {
        "id": tweet_id,
        "text": text,
        "url": f"https://x.com/offline_user/status/{tweet_id}",
        "created_at": CREATED_AT,
        "lang": "en",
        "reply_count": index % 3,
        "retweet_count": index % 5,
        "like_count": 3 + index,
        "quote_count": 0,
        "bookmark_count": 0,
        "is_retweet": False,
        "is_quote_tweet": False,
        "user": {
            "id": "7",
            "username": "offline_user",
            "name": "Offline User",
            "followers_count": 42,
            "verified": False,
            "is_blue_verified": False,
        },
    }


def tweets_answer(*texts: str) -> list[dict[str, Any]]:
    """A ``/twitter`` answer with one tweet per text."""
    return [tweet(index, text) for index, text in enumerate(texts)]


@functools.lru_cache(maxsize=1024)
def _answer(query: str, count: int) -> bytes:
    match = _NETUID.search(query)
    netuid = match.group(1) if match else "0"
    texts = [line.format(n=netuid) for line in CORPUS][:count]
    return json.dumps(tweets_answer(*texts)).encode()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


async def twitter(request: Request) -> Response:
    """``GET /twitter``: the tweets for ``query``, or the error the real API gives."""
    if not request.headers.get("authorization"):
        return _error(401, "Missing API key")
    params = request.query_params
    query = params.get("query", "").strip()
    if not query:
        return _error(422, "query is required")
    if params.get("sort", "Top") not in SORTS:
        return _error(422, "sort must be Top or Latest")
    try:
        count = int(params.get("count", "20"))
    except ValueError:
        return _error(422, "count must be an integer")
    if not 1 <= count <= MAX_COUNT:
        return _error(422, f"count must be within 1..{MAX_COUNT}")
    headers = {"X-Desearch-Cost-Usd": "0", "X-Desearch-Usage-Count": "1"}
    return Response(_answer(query, count), media_type="application/json", headers=headers)


def create_app() -> Starlette:
    return Starlette(routes=[Route("/twitter", twitter, methods=["GET"])])


if __name__ == "__main__":
    serve_app(
        lambda _args: create_app(), prog="python -m offline.desearch", default_port=DEFAULT_PORT
    )
