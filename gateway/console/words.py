"""The console's plain words: amounts, times, states and what each hop did, for a person to read.

Pure functions of the records (``Trade``, ``HopRecord``, a trade's outcome), registered as Jinja
filters by ``gateway.console.pages``, so every template says things the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.documents import HopRecord, HopState, TradeState
from shared.events import StakeAction
from shared.streams.topology import HopName

RAO_PER_UNIT = Decimal(1_000_000_000)
NOTHING = "—"

# A mark and a word for each state: the state reads without colour.
_TRADE_STATES = {
    TradeState.REQUESTED: "○ requested",
    TradeState.IN_PROGRESS: "… in progress",
    TradeState.EXECUTED: "✓ executed",
    TradeState.SKIPPED: "⤼ skipped",
    TradeState.FAILED: "✗ failed",
    TradeState.DEAD_LETTERED: "✗ dead-lettered",
}
_HOP_STATES = {
    HopState.STARTED: "… running",
    HopState.FINISHED: "✓ finished",
    HopState.FAILED: "✗ failed",
    HopState.DEAD_LETTERED: "✗ dead-lettered",
}
_ACTIONS = {
    StakeAction.ADD.value: "add stake",
    StakeAction.REMOVE.value: "remove stake",
    StakeAction.SKIP.value: "no trade",
}


def trade_state(state: TradeState) -> str:
    return _TRADE_STATES[state]


def hop_state(state: HopState | None) -> str:
    """``None``: the hop has not run yet."""
    return "○ waiting" if state is None else _HOP_STATES[state]


def units(rao: int | None, unit: str) -> str:
    """Rao (1e-9) as whole units: ``136000`` -> ``0.000136 TAO``."""
    if rao is None:
        return NOTHING
    value = Decimal(rao) / RAO_PER_UNIT
    return f"{_plain(value)} {unit}"


def tao(amount: str | Decimal | None) -> str:
    """An amount already in TAO (the events carry it as a decimal string)."""
    return NOTHING if amount is None else f"{_plain(Decimal(amount))} TAO"


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def when(moment: datetime | None) -> str:
    return NOTHING if moment is None else f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def duration(ms: float | None) -> str:
    """``0.4`` -> ``<1 ms``, ``350`` -> ``350 ms``, ``1234`` -> ``1.2 s``, ``125000`` ->
    ``2 min 5 s``."""
    if ms is None:
        return NOTHING
    if ms < 1:
        return "<1 ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def short(text: str | None, keep: int = 6) -> str:
    """The start and end of a long id or address, ``5FFApa…Cfe52v``."""
    if text is None:
        return NOTHING
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-keep:]}"


def sentence(text: str) -> str:
    """``text`` with a capital first letter (Jinja's ``capitalize`` lowers all the others)."""
    return text[:1].upper() + text[1:]


def attempts(count: int) -> str:
    if count <= 1:
        return f"{count} attempt"
    retries = count - 1
    return f"{count} attempts ({retries} {'retry' if retries == 1 else 'retries'})"


def outcome(value: Mapping[str, Any] | None) -> str:
    """A trade's outcome (its stake.executed event) in one line, for the list of trades."""
    if value is None:
        return NOTHING
    action = str(value.get("action"))
    if action == StakeAction.SKIP.value:
        return f"no trade: {value.get('reason')}"
    words = f"{_ACTIONS.get(action, action)} {tao(value.get('amount_tao'))} ({value.get('mode')})"
    if value.get("success") is False:
        words += f", failed: {value.get('error')}"
    return words


def hop_lines(hop: HopRecord) -> list[str]:
    """What the hop took in and gave out, in sentences."""
    summary = hop.summary
    if not summary:
        return []
    if hop.hop == HopName.TWEET_FETCHER:
        count = summary.get("tweet_count", 0)
        return [f"Found {count} {_tweets(count)} for “{summary.get('query')}”."]
    if hop.hop == HopName.SENTIMENT_SCORER:
        return _scored(summary, (hop.output or {}).get("tweet_count"))
    if hop.hop == HopName.STAKE_EXECUTOR:
        return _staked(summary)
    return [f"{key}: {value}" for key, value in summary.items()]


def _tweets(count: int) -> str:
    return "tweet" if count == 1 else "tweets"


def _scored(summary: Mapping[str, Any], tweet_count: int | None) -> list[str]:
    score, scorer = summary.get("score"), summary.get("scorer")
    read = "" if tweet_count is None else f" from {tweet_count} {_tweets(tweet_count)}"
    if score is None:
        lines = [f"No score could be read{read} by {scorer}: no trade follows."]
    else:
        lines = [f"Scored {score:+d} on -100..100{read} by {scorer}."]
    if summary.get("reason"):
        lines.append(f"Scorer's note: {summary['reason']}")
    return lines


def _staked(summary: Mapping[str, Any]) -> list[str]:
    action = str(summary.get("action"))
    if action == StakeAction.SKIP.value:
        return [f"No trade: {summary.get('reason')}."]
    amount = tao(summary.get("amount_tao"))
    alpha = summary.get("amount_alpha_rao")
    if alpha is not None:
        amount += f" ({units(alpha, 'alpha')})"
    lines = [
        f"{_ACTIONS.get(action, action).capitalize()} of {amount}, {summary.get('mode')} mode."
    ]
    if summary.get("submitted"):
        outcome = "it succeeded" if summary.get("success") else "it failed"
        lines.append(f"Submitted on chain: {outcome}{_error(summary)}.")
    else:
        outcome = "the plan passed" if summary.get("success") else "the plan was refused"
        lines.append(f"Planned only (paper): nothing was submitted; {outcome}{_error(summary)}.")
    lines.append(f"Fee: {units(summary.get('fee_rao'), 'TAO')}.")
    extrinsic, block_hash = summary.get("extrinsic_id"), summary.get("block_hash")
    if extrinsic or block_hash:
        block = str(extrinsic).split("-")[0] if extrinsic else "?"
        lines.append(f"Extrinsic {extrinsic or NOTHING} in block #{block} ({short(block_hash)}).")
    lines.append(f"Why: {summary.get('reason')}.")
    return lines


def _error(summary: Mapping[str, Any]) -> str:
    return f" ({summary['error']})" if summary.get("error") else ""
