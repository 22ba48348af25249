"""The two apps ``make bench`` drives: the real gateway (chain faked in memory) and a bare one.

Both are uvicorn factories, so they run exactly as production does:
``uvicorn bench.apps:gateway --factory --workers N``.
"""

from __future__ import annotations

from fastapi import FastAPI

from gateway.app import create_app
from shared.settings import Settings
from tests.fakes.substrate import client_factory, seeded

HOTKEY = "5FFApaS75bv5pJHfAp2FVLBj9ZaXuFDjEypsaBNc1wCfe52v"


def gateway() -> FastAPI:
    """The production gateway; only the chain is an in-memory fake (no network here)."""
    return create_app(Settings(), chain_factory=client_factory(seeded([HOTKEY])))


def bare() -> FastAPI:
    """The reference: FastAPI with one endpoint that does no I/O at all."""
    app = FastAPI()

    @app.get("/bare")
    async def bare_endpoint() -> dict[str, bool]:
        return {"ok": True}

    return app
