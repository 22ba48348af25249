"""The console's routes: the page, its views (HTML fragments, ``read``) and actions (``admin``).

``GET /console`` is the page itself and needs no token: it holds no data, only the sign-in form
and the scripts. Everything under it answers a token presented as on the API (``Authorization:
Bearer``) and fails with the API's error body, which the page shows. Actions answer a notice and
an ``HX-Trigger`` event that makes the view concerned refresh itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import HTMLResponse

from gateway import trades
from gateway.auth import require_scope
from gateway.console.pages import render
from gateway.deps import Caller, authenticate
from gateway.schemas import TradeFilters
from shared.documents import TERMINAL_STATES, TradeState
from shared.errors import NotFound
from shared.events import StakeAction
from shared.settings import Scope
from shared.streams import ops
from shared.streams.topology import Hop, HopName, topology

router = APIRouter(prefix="/console", include_in_schema=False)

PAGE_SIZE = 20
# Dead letters listed per stream; the count says how many there are in all.
DEAD_LETTERS_SHOWN = 20
KILL_SWITCH_CHANGES_SHOWN = 20
STREAMS_CHANGED = {"HX-Trigger": "streams-changed"}
SAFETY_CHANGED = {"HX-Trigger": "safety-changed"}
EntryId = Annotated[str, Path(pattern=r"^\d{1,20}-\d{1,20}$")]


async def _caller(request: Request, scope: Scope) -> Caller:
    caller = await authenticate(request)
    require_scope(caller.token, scope)
    return caller


def _can_act(caller: Caller) -> bool:
    return Scope.ADMIN in caller.token.scopes


@router.get("", response_class=HTMLResponse)
async def console(request: Request) -> HTMLResponse:
    return render(request, "console.html")


@router.get("/session", response_class=HTMLResponse)
async def session(request: Request) -> HTMLResponse:
    """Who the token is: the sign-in check."""
    caller = await _caller(request, Scope.READ)
    scopes = sorted(scope.value for scope in caller.token.scopes)
    return render(request, "session.html", name=caller.token.name, scopes=scopes)


@router.get("/views/trades", response_class=HTMLResponse)
async def trades_view(request: Request, filters: Annotated[TradeFilters, Query()]) -> HTMLResponse:
    return await _trades(request, "trades.html", filters)


@router.get("/views/trades/table", response_class=HTMLResponse)
async def trades_table(request: Request, filters: Annotated[TradeFilters, Query()]) -> HTMLResponse:
    """The table alone: what the page polls, and what filters and paging replace."""
    return await _trades(request, "trades_table.html", filters)


async def _trades(request: Request, template: str, filters: TradeFilters) -> HTMLResponse:
    await _caller(request, Scope.READ)
    page, total = await trades.recent(
        **filters.model_dump(exclude={"offset"}), offset=filters.offset, limit=PAGE_SIZE
    )
    return render(
        request,
        template,
        trades=page,
        total=total,
        offset=filters.offset,
        page_size=PAGE_SIZE,
        filters=filters.model_dump(exclude={"offset"}, exclude_none=True),
        states=list(TradeState),
        actions=list(StakeAction),
    )


@router.get("/views/trades/{trade_id}", response_class=HTMLResponse)
async def trade_view(
    request: Request, trade_id: Annotated[str, Path(max_length=64)]
) -> HTMLResponse:
    await _caller(request, Scope.READ)
    trade, hops = await trades.timeline(trade_id)
    by_name = {hop.hop: hop for hop in hops}
    return render(
        request,
        "trade.html",
        trade=trade,
        hops=[(name.value, by_name.get(name.value)) for name in HopName],
        terminal=trade.state in TERMINAL_STATES,
    )


@router.get("/views/streams", response_class=HTMLResponse)
async def streams_view(request: Request) -> HTMLResponse:
    caller = await _caller(request, Scope.READ)
    hops = list(topology(caller.services.settings).values())
    streams = await ops.details(caller.services.redis, hops, dead_letters_each=DEAD_LETTERS_SHOWN)
    return render(request, "streams.html", streams=streams, can_act=_can_act(caller))


@router.post("/dead-letters/{stream}/{entry_id}/requeue", response_class=HTMLResponse)
async def requeue_one(
    request: Request, stream: Annotated[str, Path(max_length=200)], entry_id: EntryId
) -> HTMLResponse:
    """One dead letter back on its stream, by the rules of ``make requeue``."""
    caller = await _caller(request, Scope.ADMIN)
    hop = _hop_reading(caller, stream)
    done = await ops.requeue(caller.services.redis, hop, [entry_id])
    if not done:
        raise NotFound(f"no dead letter {entry_id} in {hop.dead_letter_stream}", field="entry_id")
    return render(request, "requeued.html", headers=STREAMS_CHANGED, rows=done)


@router.post("/dead-letters/requeue", response_class=HTMLResponse)
async def requeue_all(request: Request) -> HTMLResponse:
    """Every dead letter of every stream back, as ``make requeue ALL=1``."""
    caller = await _caller(request, Scope.ADMIN)
    hops = topology(caller.services.settings).values()
    done = await ops.requeue_each(caller.services.redis, hops, None)
    return render(request, "requeued.html", headers=STREAMS_CHANGED, rows=done)


def _hop_reading(caller: Caller, stream: str) -> Hop:
    for hop in topology(caller.services.settings).values():
        if hop.stream == stream:
            return hop
    raise NotFound(f"no pipeline stream {stream}", field="stream")


@router.get("/views/safety", response_class=HTMLResponse)
async def safety_view(request: Request) -> HTMLResponse:
    caller = await _caller(request, Scope.READ)
    report = await caller.services.kill_switch.report(changes=KILL_SWITCH_CHANGES_SHOWN)
    return render(
        request,
        "safety.html",
        settings=caller.services.settings,
        switch=report.state,
        changes=report.changes,
        can_act=_can_act(caller),
    )


@router.post("/kill-switch/engage", response_class=HTMLResponse)
async def engage(request: Request) -> HTMLResponse:
    """Refuse every trade from the next one on."""
    return await _flip(request, engaged=True)


@router.post("/kill-switch/release", response_class=HTMLResponse)
async def release(request: Request) -> HTMLResponse:
    return await _flip(request, engaged=False)


async def _flip(request: Request, *, engaged: bool) -> HTMLResponse:
    caller = await _caller(request, Scope.ADMIN)
    state = await caller.services.kill_switch.flip(engaged=engaged, by=caller.token.name)
    return render(request, "flipped.html", headers=SAFETY_CHANGED, switch=state)
