"""The anchor of ``make bench-pipeline``: the same three hops as a Celery chain, the design
every public implementation of this task used.

``fetch -> score -> stake``, one Celery task each, chained, on the same Redis (as broker) and
with one write per hop into the same MongoDB-compatible server as ours: each task inserts one
document keyed by trade and hop. Workers are prefork processes with ``acks_late`` (a task is
acknowledged once it ran, as our entries are), as many as our consumer processes. The tasks do
nothing else: no Desearch, no Chutes, no chain, no idempotency check, no trade record, no
retries or dead letters. So the anchor is a floor of what a chain costs, not a twin of ours.

The last task writes the trade id to the stream ``celery.done``; as for ours, a chain's time is
read from Redis's own clock (entry ids), so the driver's scheduling does not enter it.

Run by ``bench.pipeline`` (``python -m celery -A bench.celery_chain worker``), configured by
``BENCH_CELERY_BROKER``, ``BENCH_CELERY_MONGODB_URL`` and ``BENCH_CELERY_MONGODB_DATABASE``.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import Any

from celery import Celery, chain
from pymongo import MongoClient
from pymongo.collection import Collection
from redis import Redis

BROKER_ENV = "BENCH_CELERY_BROKER"
MONGODB_URL_ENV = "BENCH_CELERY_MONGODB_URL"
MONGODB_DATABASE_ENV = "BENCH_CELERY_MONGODB_DATABASE"
DONE_STREAM = "celery.done"
COLLECTION = "celery_hops"

app = Celery("bench", broker=os.environ.get(BROKER_ENV, "redis://127.0.0.1:6379/13"))
app.conf.update(
    task_acks_late=True,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)


@cache
def _hops() -> Collection[dict[str, Any]]:
    """Each worker process's own client, made on first use (after the prefork fork)."""
    client: MongoClient[dict[str, Any]] = MongoClient(
        os.environ[MONGODB_URL_ENV], serverSelectionTimeoutMS=5000
    )
    return client[os.environ[MONGODB_DATABASE_ENV]][COLLECTION]


@cache
def _redis() -> Redis:
    return Redis.from_url(app.conf.broker_url)


def _record(trade_id: str, hop: str, payload: dict[str, Any]) -> None:
    _hops().insert_one({"_id": f"{trade_id}/{hop}", "trade_id": trade_id, "hop": hop, **payload})


@app.task(name="bench.fetch")
def fetch(trade_id: str) -> dict[str, Any]:
    fetched = {"trade_id": trade_id, "tweets": [{"id": "1", "text": "SN18 ships"}]}
    _record(trade_id, "fetch", fetched)
    return fetched


@app.task(name="bench.score")
def score(fetched: dict[str, Any]) -> dict[str, Any]:
    scored = {"trade_id": fetched["trade_id"], "score": 60}
    _record(fetched["trade_id"], "score", scored)
    return scored


@app.task(name="bench.stake")
def stake(scored: dict[str, Any]) -> None:
    _record(scored["trade_id"], "stake", {"action": "add_stake", "amount_tao": "1"})
    _redis().xadd(DONE_STREAM, {"trade_id": scored["trade_id"]})


def send(trade_ids: list[str]) -> None:
    """One chain per trade, as a producer would send them."""
    for trade_id in trade_ids:
        chain(fetch.s(trade_id), score.s(), stake.s()).apply_async()


def worker_command(workers: int) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", "bench.celery_chain", "worker",
        "--pool=prefork", f"--concurrency={workers}", "--loglevel=WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
