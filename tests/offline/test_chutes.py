"""The offline Chutes answers the sentiment-scorer's real client as Chutes does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from consumers.sentiment_scorer.scorers import ChutesScorer
from offline.chutes import MODELS, create_app
from shared.events import Tweet

BASE = "http://chutes.offline/v1"
TWEETS = [Tweet(id="1", text="SN18 shipped")]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(score=-35))
    async with httpx.AsyncClient(transport=transport) as client:
        yield client


async def test_the_real_scorer_reads_the_configured_score(http: httpx.AsyncClient) -> None:
    """Our Chutes client posts a chat completion and parses the score the stand-in gives."""
    scorer = ChutesScorer(BASE, "cpk_offline", model="any/model", max_attempts=1, client=http)
    result = await scorer.score(TWEETS)
    assert result.score == -35


async def test_a_completion_without_a_bearer_key_is_refused(http: httpx.AsyncClient) -> None:
    """No ``Authorization: Bearer``: 401, as Chutes answers."""
    response = await http.post(f"{BASE}/chat/completions", json={"model": "m", "messages": []})
    assert response.status_code == 401


@pytest.mark.parametrize("body", [{"messages": []}, {"model": "m"}, {"model": "", "messages": []}])
async def test_a_completion_without_model_or_messages_is_refused(
    http: httpx.AsyncClient, body: dict[str, object]
) -> None:
    """The body needs a model and a list of messages."""
    response = await http.post(
        f"{BASE}/chat/completions", json=body, headers={"Authorization": "Bearer k"}
    )
    assert response.status_code == 400


async def test_the_models_list_names_the_known_models(http: httpx.AsyncClient) -> None:
    """``GET /v1/models`` lists models in the OpenAI shape."""
    listing = (await http.get(f"{BASE}/models")).json()
    assert [model["id"] for model in listing["data"]] == list(MODELS)
