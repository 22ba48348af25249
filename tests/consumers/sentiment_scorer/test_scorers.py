"""The scorers: Chutes against a real HTTP server speaking its protocol, and VADER in-process."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from consumers.sentiment_scorer.scorers import (
    ChutesAuthError,
    ChutesRejected,
    ChutesScorer,
    ChutesUnavailable,
    VaderScorer,
    scorer_from_settings,
)
from offline.chutes import completion
from shared.events import Tweet
from shared.logging import configure_logging
from shared.settings import Settings

# No "cpk_" prefix: the log redaction would hide that one, and the tests must see a leak.
KEY = "test-chutes-key-0123456789"
PATH = "/v1/chat/completions"
SMALL, BIG = "small/model", "big/model"
TWEETS = [
    Tweet(id="1", text="Subnet 18 just shipped a great release, very bullish!"),
    Tweet(id="2", text="Dividends on SN18 keep growing.\nLove this team."),
]


def sent(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """The JSON bodies the server received, in order."""
    return [request.get_json() for request, _ in httpserver.log]


def answer(httpserver: HTTPServer, content: str | None) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json(completion(content))


@pytest.fixture
async def chutes(httpserver: HTTPServer) -> AsyncIterator[ChutesScorer]:
    scorer = ChutesScorer(
        httpserver.url_for("/v1"),
        KEY,
        model=SMALL,
        fallback_models=(BIG,),
        timeout_seconds=2,
        max_attempts=3,
        backoff_seconds=0,
    )
    yield scorer
    await scorer.aclose()


async def test_the_request_is_an_openai_chat_completion(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """POST /chat/completions with the Bearer key, the model, temperature 0 and the tweets."""
    httpserver.expect_request(
        PATH, method="POST", headers={"Authorization": f"Bearer {KEY}"}
    ).respond_with_json(completion('{"score": 40}'))
    await chutes.score(TWEETS)
    [body] = sent(httpserver)
    assert body["model"] == SMALL
    assert body["temperature"] == 0
    assert body["stream"] is False
    assert body["response_format"] == {"type": "json_object"}
    assert body["max_tokens"] <= 100
    system, user = body["messages"]
    assert system["role"] == "system"
    assert '{"score": <integer from -100 to 100>}' in system["content"]
    assert user["role"] == "user"
    assert "1. Subnet 18 just shipped a great release, very bullish!" in user["content"]
    assert "2. Dividends on SN18 keep growing. Love this team." in user["content"]


async def test_a_large_batch_makes_a_bounded_prompt(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """At most 50 tweets are sent, each on one line of at most 400 characters."""
    answer(httpserver, '{"score": 1}')
    await chutes.score([Tweet(id=str(n), text="word " * 300) for n in range(80)])
    lines = sent(httpserver)[0]["messages"][1]["content"].splitlines()
    numbered = [line for line in lines if line[:1].isdigit()]
    assert len(numbered) == 50
    assert numbered[-1].startswith("50. ")
    assert max(len(line.split(". ", 1)[1]) for line in numbered) == 400


async def test_a_json_reply_gives_its_score_and_names_the_model(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """The reply's score is the result's, and the scorer names the model that gave it."""
    answer(httpserver, '{"score": 40}')
    result = await chutes.score(TWEETS)
    assert (result.score, result.scorer, result.reason) == (40, f"chutes:{SMALL}", None)


async def test_a_prose_reply_with_a_labelled_score_is_read(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """A small model's prose answer still counts when the number follows the word score."""
    answer(httpserver, "I think the score is 40")
    assert (await chutes.score(TWEETS)).score == 40


@pytest.mark.parametrize("content", ["-100 to 100", "The tweets are about Bittensor.", None])
async def test_an_unreadable_reply_is_no_score_with_a_reason(
    httpserver: HTTPServer, chutes: ChutesScorer, content: str | None
) -> None:
    """An echoed range, prose or an empty reply is no score, with the reply kept as the reason."""
    answer(httpserver, content)
    result = await chutes.score(TWEETS)
    assert result.score is None
    assert result.reason == f"unparseable reply: {content or ''}"


async def test_the_reason_quotes_at_most_200_characters_of_the_reply(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """A rambling reply does not bloat the recorded reason."""
    answer(httpserver, "blah " * 100)
    reason = (await chutes.score(TWEETS)).reason
    assert reason == "unparseable reply: " + ("blah " * 100)[:200]


async def test_an_out_of_range_score_is_clamped(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """250 becomes 100."""
    answer(httpserver, '{"score": 250}')
    assert (await chutes.score(TWEETS)).score == 100


async def test_no_tweets_is_no_score_without_asking(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """No tweets means no signal: no request is made and the score is None, not 0."""
    result = await chutes.score([])
    assert (result.score, result.scorer, result.reason) == (None, f"chutes:{SMALL}", "no tweets")
    assert httpserver.log == []


async def test_server_errors_are_retried(httpserver: HTTPServer, chutes: ChutesScorer) -> None:
    """A 500 then a 200 is one score from the same model after one retry."""
    httpserver.expect_ordered_request(PATH).respond_with_data("busy", status=500)
    httpserver.expect_ordered_request(PATH).respond_with_json(completion('{"score": -30}'))
    result = await chutes.score(TWEETS)
    assert (result.score, result.scorer) == (-30, f"chutes:{SMALL}")
    assert [body["model"] for body in sent(httpserver)] == [SMALL, SMALL]


async def test_timeouts_are_retried(httpserver: HTTPServer) -> None:
    """A request that outlives the timeout is retried after the backoff."""

    def slow(request: Request) -> Response:
        time.sleep(0.5)
        return Response(json.dumps(completion('{"score": 1}')), content_type="application/json")

    httpserver.expect_ordered_request(PATH).respond_with_handler(slow)
    httpserver.expect_ordered_request(PATH).respond_with_json(completion('{"score": 70}'))
    scorer = ChutesScorer(
        httpserver.url_for("/v1"),
        KEY,
        model=SMALL,
        timeout_seconds=0.2,
        max_attempts=2,
        backoff_seconds=0.5,  # the test server answers one request at a time
    )
    assert (await scorer.score(TWEETS)).score == 70
    await scorer.aclose()


async def test_a_missing_model_falls_back_to_the_next(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """A 404 for the model moves on to the next one, which the result then names."""
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"detail": "model not found"}, status=404
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(completion('{"score": 20}'))
    result = await chutes.score(TWEETS)
    assert (result.score, result.scorer) == (20, f"chutes:{BIG}")
    assert [body["model"] for body in sent(httpserver)] == [SMALL, BIG]


async def test_a_bad_request_naming_the_model_falls_back(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """A 400 whose body is about the model is a model problem, not a request problem."""
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"error": {"message": f"Model {SMALL} is not available"}}, status=400
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(completion('{"score": 5}'))
    assert (await chutes.score(TWEETS)).scorer == f"chutes:{BIG}"


async def test_a_model_without_json_mode_is_asked_without_it_from_then_on(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """A 400 about response_format repeats the request without it, and later requests omit it."""
    httpserver.expect_ordered_request(PATH).respond_with_json(
        {"detail": "response_format json_object is not supported"}, status=400
    )
    httpserver.expect_ordered_request(PATH).respond_with_json(completion("Score: 10"))
    httpserver.expect_ordered_request(PATH).respond_with_json(completion("Score: 15"))
    assert (await chutes.score(TWEETS)).score == 10
    assert (await chutes.score(TWEETS)).score == 15
    bodies = sent(httpserver)
    assert ["response_format" in body for body in bodies] == [True, False, False]
    assert {body["model"] for body in bodies} == {SMALL}


@pytest.mark.parametrize("status", [401, 403])
async def test_a_refused_key_fails_at_once(
    httpserver: HTTPServer, chutes: ChutesScorer, status: int
) -> None:
    """401 and 403 raise ChutesAuthError after one request: no retry, no other model."""
    httpserver.expect_request(PATH).respond_with_json({"detail": "Invalid token"}, status=status)
    with pytest.raises(ChutesAuthError) as raised:
        await chutes.score(TWEETS)
    assert raised.value.retryable is False
    assert len(httpserver.log) == 1


async def test_a_request_refused_for_another_reason_is_not_retried(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """A 4xx about neither the key nor the model raises ChutesRejected, which is permanent."""
    httpserver.expect_request(PATH).respond_with_data("payload too large", status=413)
    with pytest.raises(ChutesRejected) as raised:
        await chutes.score(TWEETS)
    assert raised.value.retryable is False
    assert len(httpserver.log) == 1


async def test_when_every_model_keeps_failing_chutes_is_unavailable(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """Each model gets max_attempts tries; then ChutesUnavailable, which is retryable."""
    httpserver.expect_request(PATH).respond_with_data("overloaded", status=503)
    with pytest.raises(ChutesUnavailable) as raised:
        await chutes.score(TWEETS)
    assert raised.value.retryable is True
    assert [body["model"] for body in sent(httpserver)] == [SMALL] * 3 + [BIG] * 3


async def test_a_malformed_response_is_retried(
    httpserver: HTTPServer, chutes: ChutesScorer
) -> None:
    """A 200 that is not a chat completion (a proxy's HTML page, say) counts as a failed try."""
    httpserver.expect_ordered_request(PATH).respond_with_data("<html>hello</html>")
    httpserver.expect_ordered_request(PATH).respond_with_json(completion('{"score": 12}'))
    assert (await chutes.score(TWEETS)).score == 12


async def test_the_key_is_never_logged_nor_in_an_error(
    httpserver: HTTPServer, chutes: ChutesScorer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Retries, fallbacks and failures log and raise without the key."""
    configure_logging("INFO", "json")
    httpserver.expect_request(PATH).respond_with_data("overloaded", status=503)
    with pytest.raises(ChutesUnavailable) as raised:
        await chutes.score(TWEETS)
    out = capsys.readouterr().out
    events = {json.loads(line)["event"] for line in out.splitlines()}
    assert {"chutes.retry", "chutes.model_fallback"} <= events
    assert KEY not in out + str(raised.value) + repr(raised.value)


async def test_settings_choose_chutes_with_a_key_and_vader_without(
    httpserver: HTTPServer,
) -> None:
    """A configured key selects Chutes with the configured model; none selects VADER."""
    answer(httpserver, '{"score": 33}')
    url = httpserver.url_for("/v1")
    chutes = scorer_from_settings(
        Settings(_env_file=None, chutes_base_url=url, chutes_api_key=KEY, chutes_model=BIG)
    )
    assert (await chutes.score(TWEETS)).scorer == f"chutes:{BIG}"
    await chutes.aclose()
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {KEY}"
    without_key = Settings(_env_file=None, chutes_base_url=url, chutes_api_key="")
    assert scorer_from_settings(without_key).name == "vader"


async def test_vader_scores_clearly_positive_tweets_positive() -> None:
    """Praise maps to a positive score on the -100..100 scale."""
    tweets = [
        Tweet(id="1", text="This subnet is amazing, great team and excellent results!"),
        Tweet(id="2", text="Love it. Best validators on Bittensor :)"),
    ]
    result = await VaderScorer().score(tweets)
    assert result.score is not None
    assert 30 < result.score <= 100
    assert result.scorer == "vader"


async def test_vader_scores_clearly_negative_tweets_negative() -> None:
    """Complaints map to a negative score."""
    tweets = [
        Tweet(id="1", text="Terrible subnet, awful miners, total scam."),
        Tweet(id="2", text="Worst dividends ever. I hate this, so disappointed."),
    ]
    result = await VaderScorer().score(tweets)
    assert result.score is not None
    assert -100 <= result.score < -30


async def test_vader_gives_no_score_for_no_tweets() -> None:
    """No tweets is no score, not a neutral 0."""
    result = await VaderScorer().score([])
    assert (result.score, result.scorer, result.reason) == (None, "vader", "no tweets")
