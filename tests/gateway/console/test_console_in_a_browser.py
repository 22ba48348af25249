"""The console as a person uses it: a real headless Chromium (Debian's ``chromium``, driven by
Playwright) on the real gateway, Redis, MongoDB, devnode and consumers, all running as processes
(the ``stack`` fixture).

Waiting is Playwright's: each ``expect`` retries until the page shows what it says, within
``PATIENCE`` (a loaded machine is slow; nothing here measures time).

``make console-shot`` runs ``test_each_view_is_captured_at_desktop_and_phone_widths`` alone with
``CONSOLE_SHOTS`` set, to keep its PNGs where a person can look at them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright

from shared.killswitch import KEY
from tests.conftest import HOTKEY, OTHER_HOTKEY
from tests.stack_support import ADMIN_TOKEN, READ_TOKEN, Stack, request_trade, wait_for_end

PATIENCE_MS = 30_000
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 375, "height": 740}
# Hotkeys for trades: each test trades on its own, so no trade cooldown joins two tests' trades.
THIRD_HOTKEY = "5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy"
FOURTH_HOTKEY = "5HGjWAeFDfFCWPsjFQdVV2Msvz2XtMktvgocEZcCj68kUMaw"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("needs Debian's chromium (scripts/provision.sh install)")
    expect.set_options(timeout=PATIENCE_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab in a fresh profile: nothing in its session storage."""
    context = browser.new_context(viewport=DESKTOP)
    yield context.new_page()
    context.close()


@pytest.fixture
def released(stack: Stack) -> Iterator[None]:
    """The kill switch back at its startup default after the test, whatever happened in it."""
    yield
    with stack.redis() as redis:
        redis.delete(KEY)


def sign_in(page: Page, stack: Stack, token: str) -> None:
    page.goto(f"{stack.url}/console")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#identity")).to_contain_text("Signed in as")


def go(page: Page, view: str) -> None:
    """Open a view as its link does: the hash changes, the page stays."""
    page.evaluate("(hash) => { location.hash = hash; }", view)


def dead_letter(stack: Stack, trade_id: str, error: str) -> str:
    """A raw XADD to trade.requested.dlq, as a hop that gave up writes it; its entry id."""
    event = {"schema_version": 1, "trade_id": trade_id, "trace_id": trade_id, "netuid": 18}
    data = json.dumps({**event, "hotkey": FOURTH_HOTKEY})
    fields = {
        "entry_id": "1-1",
        "consumer": "tweet-fetcher-x",
        "attempts": 5,
        "error": error,
        "data": data,
    }
    with stack.redis() as redis:
        entry_id = redis.xadd("trade.requested.dlq", fields)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def test_a_wrong_token_is_refused_and_a_right_one_signs_in_without_a_url_ever_holding_it(
    page: Page, stack: Stack
) -> None:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(f"{stack.url}/console")
    page.get_by_label("API token").fill("not-a-configured-token-0001")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#sign-in-error")).to_have_text(
        "Token refused: the API token is not valid."
    )
    expect(page.get_by_role("navigation", name="Views")).to_be_hidden()

    page.get_by_label("API token").fill(READ_TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#identity")).to_have_text("Signed in as reader (read)")
    expect(page.get_by_role("heading", name="Trades")).to_be_visible()
    assert page.evaluate("Object.values(sessionStorage)").count(READ_TOKEN) == 1
    assert not [url for url in urls if READ_TOKEN in url or "not-a-configured" in url]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert READ_TOKEN not in page.evaluate("Object.values(sessionStorage)")


def test_a_requested_trade_reaches_its_end_on_the_page_without_a_reload(
    page: Page, stack: Stack
) -> None:
    """The list follows the trade by itself; its timeline tells each hop in plain words."""
    sign_in(page, stack, READ_TOKEN)
    expect(page.locator("#trade-table")).to_be_visible()
    page.evaluate("window.sameDocument = true")
    trace_id = f"browser-{uuid.uuid4().hex[:12]}"
    trade_id = request_trade(stack, HOTKEY, trace_id)

    row = page.locator(f'tr[data-trade-id="{trade_id}"]')
    expect(row.locator('td[data-label="State"]')).to_have_text("✓ executed")
    expect(row.locator('td[data-label="Outcome"]')).to_have_text("add stake 1 TAO (paper)")
    assert page.evaluate("window.sameDocument") is True  # no reload happened

    row.get_by_role("link").click()
    expect(page.locator("#trade-state")).to_have_text("✓ executed")
    expect(page.locator("#trace-id")).to_have_text(trace_id)
    hops = page.locator("li.hop")
    expect(hops.nth(0)).to_contain_text("1. tweet-fetcher ✓ finished")
    expect(hops.nth(0)).to_contain_text("Found 5 tweets for “Bittensor netuid 18”.")
    expect(hops.nth(1)).to_contain_text(
        "Scored +80 on -100..100 from 5 tweets by chutes:unsloth/Llama-3.2-3B-Instruct."
    )
    expect(hops.nth(2)).to_contain_text("Add stake of 1 TAO, paper mode.")
    expect(hops.nth(2)).to_contain_text(
        "Planned only (paper): nothing was submitted; the plan passed."
    )
    expect(hops.nth(2)).to_contain_text(re.compile(r"Fee: \d+\.\d+ TAO\."))
    for n in range(3):
        expect(hops.nth(n)).to_contain_text(re.compile(r"took [\d.<]+ m?s; 1 attempt;"))


def test_filters_narrow_the_list_of_trades(page: Page, stack: Stack) -> None:
    trade_id = request_trade(stack, THIRD_HOTKEY)
    sign_in(page, stack, READ_TOKEN)
    page.get_by_label("Hotkey").fill(THIRD_HOTKEY)
    page.get_by_label("Outcome").select_option("add_stake")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("tr[data-trade-id]")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-trade-id", trade_id)
    page.get_by_label("Outcome").select_option("skip")
    expect(page.locator("#trade-table")).to_contain_text("No trades match these filters.")
    page.get_by_label("Hotkey").fill("not-a-hotkey")  # the gateway refuses it, naming the field
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#notice")).to_contain_text("Invalid input:")
    expect(page.locator("#notice")).to_contain_text("(hotkey).")


def test_a_dead_letter_is_listed_with_its_reason_and_requeued_from_the_page(
    page: Page, stack: Stack
) -> None:
    """A malformed entry is dead-lettered by the real consumer; a letter left by a hop that gave
    up is requeued with a click, and its trade then runs to its end."""
    with stack.redis() as redis:
        redis.xadd("trade.requested", {"__data__": "this is not an event"})
    trade_id = f"requeued-{uuid.uuid4().hex[:8]}"
    entry_id = dead_letter(stack, trade_id, "TimeoutError: Desearch did not answer")

    sign_in(page, stack, ADMIN_TOKEN)
    go(page, "#/streams")
    expect(page.locator(".letters")).to_contain_text("Reason: invalid TradeRequested")
    letter = page.locator(f'li[data-dead-letter="{entry_id}"]')
    expect(letter).to_contain_text("after 5 attempts · by tweet-fetcher-x")
    expect(letter).to_contain_text("Reason: TimeoutError: Desearch did not answer")

    letter.get_by_role("button", name="Requeue").click()
    expect(page.locator("#notice")).to_have_text(
        re.compile(rf"{entry_id} \(trade\.requested, trade \S+\): requeued\.")
    )
    expect(letter).to_have_count(0)  # the view refreshed itself
    go(page, "#/trades")
    row = page.locator(f'tr[data-trade-id="{trade_id}"]')
    expect(row.locator('td[data-label="State"]')).to_have_text("✓ executed")
    expect(row.locator('td[data-label="By"]')).to_have_text("stream")


def test_the_kill_switch_flipped_from_the_page_refuses_the_next_trade(
    page: Page, stack: Stack, released: None
) -> None:
    sign_in(page, stack, ADMIN_TOKEN)
    go(page, "#/safety")
    page.get_by_role("button", name="Engage the kill switch").click()
    expect(page.locator("#notice")).to_contain_text("The kill switch is engaged by admin at")
    expect(page.locator("#kill-switch-state")).to_have_text("■ ENGAGED: every trade is refused")
    expect(page.locator("#kill-switch-audit tbody tr").first).to_contain_text("admin■ engaged")

    trade_id = request_trade(stack, OTHER_HOTKEY)
    go(page, f"#/trades/{trade_id}")
    expect(page.locator("#trade-state")).to_have_text("⤼ skipped")
    expect(page.locator('li[data-hop="stake-executor"]')).to_contain_text(
        "No trade: refused: the trading kill switch is engaged by admin at"
    )

    go(page, "#/safety")
    page.get_by_role("button", name="Release the kill switch").click()
    expect(page.locator("#kill-switch-state")).to_have_text("▶ Released: trades run")
    expect(page.locator("#kill-switch-audit tbody tr").first).to_contain_text("admin▶ released")


def test_a_read_only_token_sees_no_action_and_is_refused_if_it_tries(
    page: Page, stack: Stack, released: None
) -> None:
    entry_id = dead_letter(stack, f"read-only-{uuid.uuid4().hex[:8]}", "boom")
    sign_in(page, stack, READ_TOKEN)
    go(page, "#/streams")
    expect(page.locator(f'li[data-dead-letter="{entry_id}"]')).to_contain_text("Reason: boom")
    expect(page.get_by_role("button", name=re.compile("Requeue"))).to_have_count(0)
    go(page, "#/safety")
    expect(page.locator("#kill-switch-state")).to_have_text("▶ Released: trades run")
    expect(page.get_by_role("button")).to_have_text(["Sign out"])  # no action at all

    # Trying anyway, as a person could from the browser's console.
    page.evaluate(
        "htmx.ajax('POST', '/console/kill-switch/engage', {source: '#notice', target: '#notice'})"
    )
    expect(page.locator("#notice")).to_have_text("Refused: this token lacks the 'admin' scope.")
    page.evaluate("notice => document.getElementById(notice).textContent = ''", "notice")
    page.evaluate(
        "id => htmx.ajax('POST', `/console/dead-letters/trade.requested/${id}/requeue`,"
        " {source: '#notice', target: '#notice'})",
        entry_id,
    )
    expect(page.locator("#notice")).to_have_text("Refused: this token lacks the 'admin' scope.")
    with stack.redis() as redis:
        assert redis.get(KEY) is None
        assert [e for e, _ in redis.xrange("trade.requested.dlq") if e.decode() == entry_id]


def test_each_view_is_captured_at_desktop_and_phone_widths(
    browser: Browser, stack: Stack, tmp_path: Path, released: None
) -> None:
    """A PNG per view and width, none wider than its window (nothing overflows at 375 px)."""
    folder = Path(os.environ.get("CONSOLE_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    # Something in every view: a staked trade, one refused by the kill switch (engaged, then
    # released, as the Safety view's buttons do), and a dead letter.
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    httpx.post(f"{stack.url}/console/kill-switch/engage", headers=admin).raise_for_status()
    wait_for_end(stack, request_trade(stack, OTHER_HOTKEY))
    httpx.post(f"{stack.url}/console/kill-switch/release", headers=admin).raise_for_status()
    trade_id = request_trade(stack, HOTKEY)
    wait_for_end(stack, trade_id)
    dead_letter(stack, f"shot-{uuid.uuid4().hex[:8]}", "HTTPStatusError: 503 from Desearch")
    views = {
        "trades": "#/trades",
        "trade": f"#/trades/{trade_id}",
        "streams": "#/streams",
        "safety": "#/safety",
    }
    written = []
    for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(f"{stack.url}/console")
        written.append(shot(page, folder / f"sign-in-{width_name}.png"))
        sign_in(page, stack, ADMIN_TOKEN)
        for name, hash_ in views.items():
            go(page, hash_)
            if name == "trade":
                expect(page.locator("#trade-state")).to_have_text("✓ executed")
            else:
                expect(page.locator(f"#{name}-title")).to_be_visible()
            written.append(shot(page, folder / f"{name}-{width_name}.png"))
        context.close()
    assert len(written) == 10
    for path, width in written:
        assert width == (DESKTOP if "desktop" in path.name else PHONE)["width"], path


def shot(page: Page, path: Path) -> tuple[Path, int]:
    """A full-page PNG at ``path``, and the width of the image written."""
    page.screenshot(path=path, full_page=True)
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    (width,) = struct.unpack(">I", header[16:20])
    return path, width
