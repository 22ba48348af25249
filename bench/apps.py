"""The apps the benches run: the real gateway and stake-executor (chain faked in memory), and a
bare FastAPI app.

Each is a factory, so it runs exactly as production does: ``make bench`` serves ``gateway`` and
``bare`` with ``uvicorn --factory --workers N``; ``make bench-pipeline`` runs ``stake_executor``
with ``faststream run --factory``.
"""

from __future__ import annotations

from fastapi import FastAPI
from faststream import FastStream

from consumers.stake_executor.app import create_app as create_stake_executor
from consumers.stake_executor.executor import PAPER_DEFAULT_ADDRESS
from gateway.app import create_app
from offline.substrate import client_factory, seeded
from shared.settings import Settings

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


def stake_executor() -> FastStream:
    """The production stake-executor; only the chain is an in-memory fake (``make bench-pipeline``).

    Run as a consumer runs: ``faststream run --factory bench.apps:stake_executor``. Paper trades
    plan for the development account (``make bench-pipeline`` sets no wallet), funded and staked
    here so that every trade is planned, not skipped by the balance and position checks.
    """
    chain = seeded([HOTKEY], traders=[PAPER_DEFAULT_ADDRESS])
    return create_stake_executor(Settings(), chain_factory=client_factory(chain))
