"""The console's routes over HTTP, on real Redis and MongoDB: tokens and scopes, every view's
content, and the actions with what they change. (What a person sees in a browser is in
``test_console_in_a_browser.py``.)"""

from __future__ import annotations

import hashlib
import html as html_text
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from offline.substrate import FakeSubstrate
from shared.documents import HopRecord, HopState, KillSwitchChange, Trade, TradeState
from shared.events import utc_now
from shared.killswitch import KillSwitch
from shared.settings import Settings, parse_api_tokens
from tests.conftest import HOTKEY, OTHER_HOTKEY, READ_TOKEN
from tests.gateway_client import running_gateway
from tests.pipeline_support import dead_letter, trade_requested, tweets_fetched
from tests.waiting import add

ADMIN_TOKEN = "admin-token-0123456789"
TRADE_ONLY_TOKEN = "trade-only-token-0123456789"
READ = {"Authorization": f"Bearer {READ_TOKEN}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
VIEWS = [
    "/console/session",
    "/console/views/trades",
    "/console/views/trades/table",
    "/console/views/trades/some-trade",
    "/console/views/streams",
    "/console/views/safety",
]
ACTIONS = [
    "/console/kill-switch/engage",
    "/console/kill-switch/release",
    "/console/dead-letters/requeue",
    "/console/dead-letters/trade.requested/1-0/requeue",
]
STATIC = Path(__file__).resolve().parents[3] / "gateway" / "console" / "static"
HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


@pytest.fixture
def console_settings(settings: Settings) -> Settings:
    """The test tokens, plus an admin and a token that may trade but not read."""
    extra = parse_api_tokens(f"admin:{ADMIN_TOKEN}:read+admin,trade-only:{TRADE_ONLY_TOKEN}:trade")
    return settings.model_copy(update={"api_tokens": settings.api_tokens + extra})


@pytest.fixture
async def console(
    console_settings: Settings, substrate: FakeSubstrate
) -> AsyncIterator[httpx.AsyncClient]:
    async with running_gateway(console_settings, substrate) as client:
        yield client


def text_of(html: str) -> str:
    """The page's words without tags or runs of spaces, as a person reads them."""
    return html_text.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


async def record(trade_id: str, state: TradeState, **fields: object) -> Trade:
    """A trade as the pipeline records it, on subnet 18 and HOTKEY unless ``fields`` say."""
    values = {"netuid": 18, "hotkey": HOTKEY, **fields}
    trade = Trade.model_validate(
        {"id": trade_id, "trace_id": f"trace-{trade_id}", "state": state, "requested_by": "trader"}
        | values
    )
    inserted: Trade = await trade.insert()
    return inserted


# --- the page and its files ---


async def test_the_page_needs_no_token_and_allows_scripts_from_the_gateway_only(
    console: httpx.AsyncClient,
) -> None:
    """The page holds no data: a sign-in form and the gateway's own scripts, never a CDN's."""
    response = await console.get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert response.headers["cache-control"] == "no-store"
    assert 'id="sign-in"' in response.text
    sources = re.findall(r'(?:src|href)="([^"#]+)"', response.text)
    assert sources
    assert all(source.startswith("/console/static/") for source in sources)


async def test_htmx_is_served_as_it_came_from_the_registry(console: httpx.AsyncClient) -> None:
    """The file served is byte for byte the one whose digest static/README.md records."""
    response = await console.get("/console/static/htmx.min.js")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == HTMX_SHA256
    assert HTMX_SHA256 in (STATIC / "README.md").read_text()


# --- tokens and scopes ---


@pytest.mark.parametrize("path", VIEWS)
@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer wrong-token-0123456789"}], ids=["none", "wrong"]
)
async def test_every_view_needs_a_valid_token(
    console: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> None:
    response = await console.get(path, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("path", VIEWS)
async def test_a_token_without_the_read_scope_sees_no_view(
    console: httpx.AsyncClient, path: str
) -> None:
    response = await console.get(path, headers={"Authorization": f"Bearer {TRADE_ONLY_TOKEN}"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


@pytest.mark.parametrize("path", ACTIONS)
async def test_a_read_only_token_is_refused_every_action_and_nothing_changes(
    console: httpx.AsyncClient, console_settings: Settings, redis: Redis, path: str
) -> None:
    dead_letters = f"{console_settings.stream_trade_requested}.dlq"
    await redis.xadd(dead_letters, dead_letter(trade_requested("t-1")))
    response = await console.post(path, headers=READ)
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "insufficient_scope",
        "message": "this token lacks the 'admin' scope",
        "field": None,
    }
    assert not (await KillSwitch(redis, default=False).state()).engaged
    assert await KillSwitchChange.count() == 0
    assert await redis.xlen(dead_letters) == 1


async def test_the_session_names_the_token_and_its_scopes(console: httpx.AsyncClient) -> None:
    response = await console.get("/console/session", headers=ADMIN)
    assert text_of(response.text) == "Signed in as admin (admin, read)"


# --- trades ---


async def test_trades_are_listed_newest_first_and_paged(console: httpx.AsyncClient) -> None:
    """25 trades: the first page holds the 20 newest and offers older ones; the second the rest."""
    start = utc_now()
    for n in range(25):
        await record(f"t-{n:02}", TradeState.EXECUTED, requested_at=start + timedelta(seconds=n))
    first = await console.get("/console/views/trades", headers=READ)
    second = await console.get("/console/views/trades/table?offset=20", headers=READ)
    assert "Trades 1–20 of 25, newest first." in text_of(first.text)
    rows = re.findall(r'data-trade-id="([^"]+)"', first.text)
    assert rows == [f"t-{n:02}" for n in range(24, 4, -1)]
    assert "Older →" in first.text
    assert "Newer" not in first.text
    assert re.findall(r'data-trade-id="([^"]+)"', second.text) == [
        "t-04",
        "t-03",
        "t-02",
        "t-01",
        "t-00",
    ]
    assert "← Newer" in second.text
    assert 'hx-trigger="every 2s"' in second.text  # the table refreshes itself


async def test_trades_are_filtered_by_subnet_hotkey_state_and_outcome(
    console: httpx.AsyncClient,
) -> None:
    skip = {"action": "skip", "reason": "neutral sentiment: |3| < 10"}
    add = {"action": "add_stake", "amount_tao": "1", "mode": "paper", "success": True}
    await record("added", TradeState.EXECUTED, outcome=add)
    await record("skipped", TradeState.SKIPPED, outcome=skip)
    await record("running", TradeState.IN_PROGRESS)
    await record("elsewhere", TradeState.IN_PROGRESS, netuid=7, hotkey=OTHER_HOTKEY)

    async def ids(query: str) -> set[str]:
        response = await console.get(f"/console/views/trades/table?{query}", headers=READ)
        assert response.status_code == 200
        return set(re.findall(r'data-trade-id="([^"]+)"', response.text))

    assert await ids("action=skip") == {"skipped"}
    assert await ids("action=add_stake") == {"added"}
    assert await ids("state=in_progress") == {"running", "elsewhere"}
    assert await ids("netuid=7") == {"elsewhere"}
    assert await ids(f"hotkey={HOTKEY}&state=in_progress") == {"running"}
    table = await console.get("/console/views/trades/table?action=skip", headers=READ)
    assert "no trade: neutral sentiment: |3| < 10" in text_of(table.text)
    assert "action=skip" in table.text  # the refresh keeps the filter
    none = await console.get("/console/views/trades/table?netuid=99", headers=READ)
    assert "No trades match these filters." in text_of(none.text)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("netuid=abc", "netuid"),
        ("netuid=70000", "netuid"),
        ("hotkey=5bad", "hotkey"),
        ("state=lost", "state"),
        ("action=hold", "action"),
        ("offset=-1", "offset"),
    ],
)
async def test_a_bad_filter_is_refused_naming_it(
    console: httpx.AsyncClient, query: str, field: str
) -> None:
    response = await console.get(f"/console/views/trades/table?{query}", headers=READ)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_parameter"
    assert response.json()["error"]["field"] == field


async def test_a_trade_s_timeline_reads_each_hop_in_plain_words(
    console: httpx.AsyncClient,
) -> None:
    """Times, durations, attempts, what each hop took and gave, errors and the trace id."""
    await record("t-live", TradeState.IN_PROGRESS)
    started = utc_now()
    await HopRecord(
        id=HopRecord.key("t-live", "tweet-fetcher"),
        trade_id="t-live",
        hop="tweet-fetcher",
        state=HopState.FINISHED,
        attempts=3,
        entry_id="1-0",
        consumer="tweet-fetcher-a",
        started_at=started,
        finished_at=started,
        duration_ms=1234.0,
        summary={
            "query": "Bittensor netuid 18",
            "tweet_count": 2,
            "tweets": [{"id": "1", "text": "SN18 <b>ships</b>"}, {"id": "2", "text": "meh"}],
        },
    ).insert()
    await HopRecord(
        id=HopRecord.key("t-live", "sentiment-scorer"),
        trade_id="t-live",
        hop="sentiment-scorer",
        state=HopState.STARTED,
        attempts=2,
        entry_id="2-0",
        consumer="sentiment-scorer-a",
        error="ReadTimeout: Chutes did not answer",
    ).insert()
    response = await console.get("/console/views/trades/t-live", headers=READ)
    words = text_of(response.text)
    assert response.status_code == 200
    assert "… in progress" in words
    assert "Trace id trace-t-live" in words
    assert "took 1.2 s; 3 attempts (2 retries); consumer tweet-fetcher-a" in words
    assert "Found 2 tweets for “Bittensor netuid 18”." in words
    assert "SN18 &lt;b&gt;ships&lt;/b&gt;" in response.text  # tweets are text, never markup
    assert "2. sentiment-scorer … running" in words
    assert "Last attempt failed, will be retried: ReadTimeout: Chutes did not answer" in words
    assert "3. stake-executor ○ waiting Not run yet." in words
    assert 'hx-trigger="every 2s"' in response.text  # not terminal: the page follows it


async def test_a_terminal_trade_is_no_longer_polled(console: httpx.AsyncClient) -> None:
    await record("t-done", TradeState.FAILED, error="Desearch refused the search: 401")
    response = await console.get("/console/views/trades/t-done", headers=READ)
    assert "Error Desearch refused the search: 401" in text_of(response.text)
    assert "hx-trigger" not in response.text


async def test_an_unknown_trade_is_not_found(console: httpx.AsyncClient) -> None:
    response = await console.get("/console/views/trades/no-such-trade", headers=READ)
    assert response.status_code == 404
    assert response.json()["error"]["field"] == "trade_id"


# --- streams and dead letters ---


async def test_the_streams_view_lists_dead_letters_with_their_reason_and_buttons_for_admins(
    console: httpx.AsyncClient, console_settings: Settings, redis: Redis
) -> None:
    dead_letters = f"{console_settings.stream_tweets_fetched}.dlq"
    fields = dead_letter(
        tweets_fetched("t-9"), error="HTTPStatusError: 503 from Chutes", consumer="scorer-a"
    )
    dead_id = await add(redis, dead_letters, fields)
    as_admin = await console.get("/console/views/streams", headers=ADMIN)
    as_reader = await console.get("/console/views/streams", headers=READ)
    words = text_of(as_admin.text)
    assert "tweets.fetched sentiment-scorer 0 0 unknown 0 ⚠ 1" in words
    assert f"{dead_id} trade t-9 · after 5 attempts · by scorer-a" in words
    assert "Reason: HTTPStatusError: 503 from Chutes" in words
    requeue = f'hx-post="/console/dead-letters/tweets.fetched/{dead_id}/requeue"'
    assert requeue in as_admin.text
    assert "Requeue every dead letter (1)" in words
    assert "Reason: HTTPStatusError: 503 from Chutes" in text_of(as_reader.text)
    assert "hx-post" not in as_reader.text


async def test_requeueing_one_dead_letter_puts_it_back_on_its_stream(
    console: httpx.AsyncClient, console_settings: Settings, redis: Redis
) -> None:
    stream = console_settings.stream_trade_requested
    dead_id = await add(redis, f"{stream}.dlq", dead_letter(trade_requested("t-1")))
    response = await console.post(
        f"/console/dead-letters/{stream}/{dead_id}/requeue", headers=ADMIN
    )
    assert response.status_code == 200
    assert response.headers["hx-trigger"] == "streams-changed"
    assert text_of(response.text) == f"{dead_id} (trade.requested, trade t-1): requeued."
    assert (await redis.xlen(f"{stream}.dlq"), await redis.xlen(stream)) == (0, 1)


async def test_requeueing_all_skips_trades_that_already_completed(
    console: httpx.AsyncClient, console_settings: Settings, redis: Redis
) -> None:
    """As `make requeue ALL=1`: the open trade goes back, the executed one's letter is removed."""
    await record("t-done", TradeState.EXECUTED)
    requested = console_settings.stream_trade_requested
    fetched = console_settings.stream_tweets_fetched
    await redis.xadd(f"{requested}.dlq", dead_letter(trade_requested("t-open")))
    await redis.xadd(f"{fetched}.dlq", dead_letter(tweets_fetched("t-done")))
    response = await console.post("/console/dead-letters/requeue", headers=ADMIN)
    words = text_of(response.text)
    assert "(trade.requested, trade t-open): requeued." in words
    assert "(tweets.fetched, trade t-done): its trade had already completed" in words
    assert (await redis.xlen(requested), await redis.xlen(fetched)) == (1, 0)
    assert (await redis.xlen(f"{requested}.dlq"), await redis.xlen(f"{fetched}.dlq")) == (0, 0)
    nothing = await console.post("/console/dead-letters/requeue", headers=ADMIN)
    assert text_of(nothing.text) == "There were no dead letters to requeue."


@pytest.mark.parametrize(
    ("path", "status", "field"),
    [
        ("/console/dead-letters/trade.requested/1-0/requeue", 404, "entry_id"),
        ("/console/dead-letters/no.such.stream/1-0/requeue", 404, "stream"),
        ("/console/dead-letters/trade.requested/not-an-id/requeue", 422, "entry_id"),
    ],
)
async def test_requeueing_what_is_not_there_is_refused_naming_it(
    console: httpx.AsyncClient, path: str, status: int, field: str
) -> None:
    response = await console.post(path, headers=ADMIN)
    assert response.status_code == status
    assert response.json()["error"]["field"] == field


# --- safety ---


async def test_engaging_the_kill_switch_is_audited_and_read_by_every_process(
    console: httpx.AsyncClient, redis: Redis
) -> None:
    response = await console.post("/console/kill-switch/engage", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["hx-trigger"] == "safety-changed"
    assert text_of(response.text).startswith("The kill switch is engaged by admin at ")
    state = await KillSwitch(redis, default=False).state()  # as the stake-executor reads it
    assert (state.engaged, state.by) == (True, "admin")
    [change] = await KillSwitchChange.find_all().to_list()
    assert (change.engaged, change.by, change.at) == (True, "admin", state.at)

    view = text_of((await console.get("/console/views/safety", headers=ADMIN)).text)
    assert "■ ENGAGED: every trade is refused" in view
    assert "Release the kill switch" in view
    assert "admin ■ engaged" in view  # the audit: who, to what

    await console.post("/console/kill-switch/release", headers=ADMIN)
    assert not (await KillSwitch(redis, default=False).state()).engaged
    assert await KillSwitchChange.count() == 2


async def test_the_safety_view_shows_mode_caps_and_a_switch_only_admins_can_flip(
    console: httpx.AsyncClient,
) -> None:
    as_reader = text_of((await console.get("/console/views/safety", headers=READ)).text)
    as_admin = text_of((await console.get("/console/views/safety", headers=ADMIN)).text)
    assert "▶ Released: trades run" in as_reader
    assert "Released (TRADING_KILL_SWITCH=false, the startup default)" in as_reader
    assert "Mode paper: planned only, nothing is submitted" in as_reader
    assert "Cap per trade 1 TAO" in as_reader
    assert "Cap per UTC day 10 TAO" in as_reader
    assert "Never flipped here" in as_reader
    assert "Engage the kill switch" not in as_reader
    assert "Engage the kill switch" in as_admin
