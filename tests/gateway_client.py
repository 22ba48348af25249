"""Run the gateway in-process, lifespan included, and talk to it over httpx."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from gateway.app import create_app
from offline.substrate import FakeSubstrate, client_factory
from shared.settings import Settings


class _WithState:
    """Hands the lifespan's state to each request, as an ASGI server does."""

    def __init__(self, app: FastAPI, state: dict[str, Any]) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["state"] = dict(self.state)
        await self.app(scope, receive, send)


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, substrate: FakeSubstrate | None
) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway on ``substrate`` (the seam fake), or on BITTENSOR_NETWORK when None."""
    app = create_app(settings, chain_factory=client_factory(substrate) if substrate else None)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, dict(state or {})))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield client
