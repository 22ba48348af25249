"""A trade end to end: gateway -> tweet-fetcher -> sentiment-scorer -> stake-executor.

Real Redis streams and MongoDB; Desearch and Chutes served over HTTP on 127.0.0.1; the chain
through the SDK's Substrate seam.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from redis.asyncio import Redis

from consumers.tweet_fetcher.app import create_app as tweet_fetcher
from offline.chutes import completion
from offline.desearch import tweets_answer
from offline.substrate import FakeSubstrate
from shared.documents import Trade, TradeState
from shared.settings import Settings
from tests.conftest import HOTKEY, TRADE_TOKEN, TRADER_MNEMONIC
from tests.gateway_client import running_gateway
from tests.pipeline_support import (
    pipeline_settings,
    running,
    running_pipeline,
    wait_for_hop,
    wait_for_terminal,
)

AUTH = {"Authorization": f"Bearer {TRADE_TOKEN}"}
TRADE: dict[str, Any] = {"netuid": 18, "hotkey": HOTKEY, "trade": "true"}


def serve(httpserver: HTTPServer, *, tweets: list[dict[str, Any]], reply: str) -> None:
    httpserver.expect_request("/twitter", method="GET").respond_with_json(tweets)
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_json(
        completion(reply)
    )


async def run_trade(settings: Settings, substrate: FakeSubstrate) -> dict[str, Any]:
    """Request a trade at the gateway, wait for it to end, and return its timeline."""
    async with (
        running_gateway(settings, substrate) as gateway,
        running_pipeline(settings, substrate),
    ):
        response = await gateway.get("/api/v1/tao_dividends", params=TRADE, headers=AUTH)
        assert response.status_code == 200
        trade_id = response.json()["trade_id"]
        await wait_for_terminal(trade_id)
        timeline = await gateway.get(f"/api/v1/trades/{trade_id}", headers=AUTH)
    assert timeline.status_code == 200
    body: dict[str, Any] = timeline.json()
    return body


def readme_xadd() -> tuple[str, str, str]:
    """Stream, field and value of the `redis-cli XADD` line in the README."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^redis-cli XADD (\S+) '\*' (\S+) '(.+)'$", readme, re.MULTILINE)
    assert match is not None, "the README lost its redis-cli XADD line"
    stream, field, data = match.groups()
    return stream, field, data


def hop(timeline: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [h for h in timeline["hops"] if h["hop"] == name]
    assert len(found) == 1
    return found[0]


async def test_positive_sentiment_adds_the_configured_stake_in_live_mode(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer
) -> None:
    """Score +80 in live mode: exactly one add_stake of 1 TAO to the hotkey on netuid 18."""
    serve(
        httpserver, tweets=tweets_answer("SN18 is great", "love subnet 18"), reply='{"score": 80}'
    )
    settings = pipeline_settings(
        settings, httpserver, trading_mode="live", wallet_mnemonic=TRADER_MNEMONIC
    )
    timeline = await run_trade(settings, substrate)

    assert timeline["state"] == "executed"
    [submission] = substrate.submissions
    assert submission.call.function == "add_stake_limit"
    assert submission.call.params["hotkey"] == HOTKEY
    assert submission.call.params["netuid"] == 18
    assert submission.call.params["amount_staked"] == 1_000_000_000
    assert [h["hop"] for h in timeline["hops"]] == [
        "tweet-fetcher",
        "sentiment-scorer",
        "stake-executor",
    ]
    assert all(h["state"] == "finished" for h in timeline["hops"])
    assert hop(timeline, "tweet-fetcher")["summary"]["tweets"][0] == {
        "id": "1000",
        "text": "SN18 is great",
    }
    assert hop(timeline, "sentiment-scorer")["summary"]["score"] == 80
    stake = hop(timeline, "stake-executor")["summary"]
    assert stake["action"] == "add_stake"
    assert stake["submitted"] is True
    assert stake["extrinsic_id"] is not None
    assert stake["block_hash"] is not None
    assert timeline["outcome"]["amount_tao"] == "1"


async def test_negative_sentiment_removes_the_alpha_equivalent(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer
) -> None:
    """Score -60: remove_stake of the alpha worth 1 TAO at the subnet's price (2 TAO/alpha)."""
    serve(httpserver, tweets=tweets_answer("SN18 is a rug"), reply='{"score": -60}')
    settings = pipeline_settings(
        settings, httpserver, trading_mode="live", wallet_mnemonic=TRADER_MNEMONIC
    )
    timeline = await run_trade(settings, substrate)

    assert timeline["state"] == "executed"
    [submission] = substrate.submissions
    assert submission.call.function == "remove_stake_limit"
    assert submission.call.params["amount_unstaked"] == 500_000_000  # alpha rao
    assert timeline["outcome"]["amount_alpha_rao"] == 500_000_000


async def test_neutral_sentiment_is_skipped(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer
) -> None:
    """|score| under the neutral threshold: no stake, the trade ends skipped with the reason."""
    serve(httpserver, tweets=tweets_answer("SN18 exists"), reply='{"score": 3}')
    timeline = await run_trade(pipeline_settings(settings, httpserver), substrate)

    assert timeline["state"] == "skipped"
    assert "neutral" in timeline["outcome"]["reason"]
    assert timeline["outcome"]["skip_reason"] == "neutral"
    assert substrate.submissions == []


async def test_paper_mode_plans_and_never_submits(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer
) -> None:
    """The default mode runs the SDK's dry run: a planned stake with a fee, nothing submitted."""
    serve(httpserver, tweets=tweets_answer("SN18 to the moon"), reply='{"score": 90}')
    timeline = await run_trade(pipeline_settings(settings, httpserver), substrate)

    assert timeline["state"] == "executed"
    stake = hop(timeline, "stake-executor")["summary"]
    assert (stake["mode"], stake["submitted"], stake["success"]) == ("paper", False, True)
    assert stake["fee_rao"] == substrate.fee_rao
    assert substrate.submissions == []


@pytest.mark.parametrize(
    "reply",
    ["The tweets are mostly upbeat.", "Give a score from -100 to 100.", "%%%###"],
    ids=["prose", "echoed-range", "garbage"],
)
async def test_an_unreadable_score_leads_to_no_trade(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer, reply: str
) -> None:
    """No score is not a score of 0: the trade is skipped and the reason recorded."""
    serve(httpserver, tweets=tweets_answer("SN18 news"), reply=reply)
    settings = pipeline_settings(
        settings, httpserver, trading_mode="live", wallet_mnemonic=TRADER_MNEMONIC
    )
    timeline = await run_trade(settings, substrate)

    assert timeline["state"] == "skipped"
    scored = hop(timeline, "sentiment-scorer")["summary"]
    assert scored["score"] is None
    assert scored["reason"]
    assert timeline["outcome"]["reason"] == "no sentiment score: no trade"
    assert substrate.submissions == []


async def test_desearch_failing_once_is_retried_and_the_trade_completes(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer
) -> None:
    """Desearch answering 500 then 200: the search is retried and the trade completes."""
    httpserver.expect_ordered_request("/twitter").respond_with_data("boom", status=500)
    serve(httpserver, tweets=tweets_answer("SN18 rocks"), reply='{"score": 50}')
    timeline = await run_trade(pipeline_settings(settings, httpserver), substrate)

    assert timeline["state"] == "executed"
    assert sum(1 for request, _ in httpserver.log if request.path == "/twitter") == 2


async def test_a_refused_desearch_key_fails_the_trade_with_the_reason(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer
) -> None:
    """Desearch answering 401: the trade ends failed, saying why; nothing further runs."""
    httpserver.expect_request("/twitter").respond_with_json(
        {"detail": "Invalid API key"}, status=401
    )
    timeline = await run_trade(pipeline_settings(settings, httpserver), substrate)

    assert timeline["state"] == "failed"
    assert "Desearch refused" in timeline["error"]
    assert [h["hop"] for h in timeline["hops"]] == ["tweet-fetcher"]
    assert hop(timeline, "tweet-fetcher")["state"] == "failed"


async def test_a_raw_xadd_as_the_readme_shows_drives_a_trade_to_completion(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer, redis: Redis
) -> None:
    """The README's redis-cli line (plain JSON in field __data__) is a complete trade request."""
    serve(httpserver, tweets=tweets_answer("SN18 is great"), reply='{"score": 40}')
    settings = pipeline_settings(settings, httpserver)
    stream, field, data = readme_xadd()
    async with running_pipeline(settings, substrate):
        await redis.xadd(stream, {field: data})
        trade = await wait_for_terminal(json.loads(data)["trade_id"])

    assert stream == settings.stream_trade_requested
    assert trade.state == "executed"
    assert trade.requested_by == "stream"
    assert trade.trace_id == "ext-0001"
    assert trade.outcome is not None
    assert trade.outcome["action"] == "add_stake"


async def test_a_trade_the_gateway_admitted_is_in_progress_once_the_first_hop_has_it(
    settings: Settings, substrate: FakeSubstrate, httpserver: HTTPServer
) -> None:
    """The gateway records the trade requested and publishes it; the tweet-fetcher moves it on."""
    serve(httpserver, tweets=tweets_answer("SN18 ships"), reply='{"score": 50}')
    settings = pipeline_settings(settings, httpserver)
    async with running_gateway(settings, substrate) as gateway, running(tweet_fetcher(settings)):
        response = await gateway.get("/api/v1/tao_dividends", params=TRADE, headers=AUTH)
        trade_id = response.json()["trade_id"]
        await wait_for_hop(trade_id)
        trade = await Trade.get(trade_id)
    assert trade is not None
    assert (trade.state, trade.requested_by) == (TradeState.IN_PROGRESS, "trader")
