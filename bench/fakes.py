"""Zero-latency stand-ins for Desearch and Chutes, for ``make bench-pipeline``.

The pipeline bench measures our consumers, Redis and MongoDB, not third-party APIs (and this
machine has no internet), so both APIs answer at once with fixed bodies, encoded once at import.
The shapes are the ones the pipeline tests serve (``tests/pipeline_support.py``), so the bench
follows the tests when a contract changes. Every tweet set scores 80: each trade adds stake.

Run: ``python -m uvicorn bench.fakes:app --host 127.0.0.1 --port 18090``.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.pipeline_support import completion, tweets_json

TWEETS = json.dumps(
    tweets_json(
        "Subnet 18 shipped a great release, bullish",
        "Validators on SN18 report steady emissions",
        "Cortex on Bittensor keeps improving",
    )
).encode()
COMPLETION = json.dumps(completion('{"score": 80}')).encode()


async def twitter(_request: Request) -> Response:
    """Desearch ``GET /twitter``: a fixed list of tweets, whatever the query."""
    return Response(TWEETS, media_type="application/json")


async def chat_completions(_request: Request) -> Response:
    """Chutes ``POST /v1/chat/completions``: an OpenAI-style completion of ``{"score": 80}``."""
    return Response(COMPLETION, media_type="application/json")


app = Starlette(
    routes=[
        Route("/twitter", twitter, methods=["GET"]),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
    ]
)
