"""``make bench-pipeline``: N trades through the three consumers, run as in production.

Why a separate bench: ``make bench`` measures the gateway's read path; this one measures what a
trade costs once admitted, which is bound by the consumers, Redis and MongoDB. So everything but
the outside world is real: each consumer is its own ``faststream run --factory`` process
(``--replicas`` per consumer, sharing their group), on a local Redis and MongoDB; Desearch and
Chutes are the zero-latency offline stand-ins (``offline.desearch``, ``offline.chutes``) and
the chain is the in-memory fake (``bench.apps:stake_executor``). (``python -m consumers <name>``
runs the same app, and only adds a restart when the group is lost, which never happens here.)

Trades enter as an external producer writes them (plain JSON in ``__data__``, pipelined XADDs).
Latency is measured by Redis's own clock: from a trade's ``trade.requested`` entry id to its
``stake.executed`` entry id (entry ids start with the millisecond Redis assigned), so neither the
bench's scheduling nor clock skew between processes enters the figures. The Redis database and
MongoDB database used are wiped at start: never point them at data you want to keep.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from faststream.redis.parser import BinaryMessageFormatV1
from pymongo import MongoClient
from redis import Redis

from bench.apps import HOTKEY
from bench.processes import (
    Processes,
    exit_on_sigterm,
    polling_consumers,
    processes,
    start_fakes,
)
from shared.events import Event, SentimentScored, StakeExecuted, TweetsFetched
from shared.settings import Settings
from shared.streams.topology import Hop, HopName, topology

REDIS_URL = "redis://127.0.0.1:6379/13"
MONGODB_URL = "mongodb://127.0.0.1:27017"
MONGODB_DATABASE = "bench_pipeline"
NETUID = 18
# The production factories; only the stake-executor's chain is replaced (bench/apps.py).
FACTORIES = {
    HopName.TWEET_FETCHER: "consumers.tweet_fetcher.app:create_app",
    HopName.SENTIMENT_SCORER: "consumers.sentiment_scorer.app:create_app",
    HopName.STAKE_EXECUTOR: "bench.apps:stake_executor",
}
SEND_BATCH = 500  # XADDs per pipelined round trip
READ_BATCH = 1000  # entries per XREAD
PROGRESS_SECONDS = 15

Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True)
class Target:
    """Where the bench runs: the Redis and MongoDB databases it wipes, and the stand-ins' ports
    (Desearch on ``fake_port``, Chutes on the next one)."""

    redis_url: str
    mongodb_url: str
    mongodb_database: str
    fake_port: int

    @property
    def desearch_base(self) -> str:
        return f"http://127.0.0.1:{self.fake_port}"

    @property
    def chutes_base(self) -> str:
        return f"http://127.0.0.1:{self.fake_port + 1}/v1"


@dataclass(frozen=True)
class Completed:
    """One trade's journey by Redis entry-id time (ms), and how the stake-executor ended it."""

    requested_ms: int
    executed_ms: int
    action: str
    mode: str
    skip_reason: str | None = None  # set when the executor's chain check skipped the trade

    @property
    def latency_ms(self) -> int:
        return self.executed_ms - self.requested_ms


# --- child processes ---


def consumer_env(target: Target) -> dict[str, str]:
    """The consumers' settings: this bench's databases, the fakes, quiet logs, paper trading."""
    return {
        **os.environ,
        "REDIS_URL": target.redis_url,
        "MONGODB_URL": target.mongodb_url,
        "MONGODB_DATABASE": target.mongodb_database,
        "LOG_LEVEL": "WARNING",
        # Replicas on one host would all ask for the same Prometheus port; metrics are still
        # recorded, only not served.
        "METRICS_PORT": "0",
        "DESEARCH_BASE_URL": target.desearch_base,
        "DESEARCH_API_KEY": "bench-desearch-key-0123456789",
        "CHUTES_BASE_URL": target.chutes_base,
        "CHUTES_API_KEY": "bench-chutes-key-0123456789",
        # Never live, whatever .env says; and no daily cap, so every trade plans a stake on the
        # (fake) chain instead of being skipped after the tenth.
        "TRADING_MODE": "paper",
        "TRADING_KILL_SWITCH": "false",
        # Plan for the development account, which bench.apps funds on the in-memory chain.
        "WALLET_MNEMONIC": "",
        "WALLET_ADDRESS": "",
        "STAKE_DAILY_CAP_TAO": "1000000000",
    }


def start_consumers(procs: Processes, target: Target, replicas: int) -> None:
    env = consumer_env(target)
    for hop, factory in FACTORIES.items():
        for replica in range(1, replicas + 1):
            command = [sys.executable, "-m", "faststream", "run", "--factory", factory]
            procs.start(f"{hop.value}#{replica}", command, env)


def wait_for_consumers(redis: Redis, processes: int, procs: Processes) -> None:
    """Ready when every consumer process polls its group.

    Each process has one subscriber, whose connection does nothing but XREADGROUP until entries
    arrive. XINFO CONSUMERS cannot tell: before Redis 7.2 a blocking XREADGROUP that finds
    nothing does not create its consumer.
    """
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        procs.require_running()
        if polling_consumers(redis) >= processes:
            return
        time.sleep(0.2)
    raise RuntimeError("the consumers did not all start polling their groups within 120 s")


def warm_up(redis: Redis, settings: Settings, run_id: str, trades: int, procs: Processes) -> None:
    """A few trades through the whole pipeline first: it works (fakes, MongoDB, chain), and first
    calls (connections, the SDK's first plan) do not count in the figures."""
    requested = send(redis, settings.stream_trade_requested, trades, f"warmup-{run_id}")
    done = collect(redis, settings.stream_stake_executed, requested, timeout=60, stall=60,
                   procs=procs, quiet=True)  # fmt: skip
    if len(done) < trades:
        raise RuntimeError(f"only {len(done)} of {trades} warm-up trades completed within 60 s")


# --- the run ---


def wipe(redis: Redis, target: Target) -> None:
    redis.flushdb()
    mongo: MongoClient[dict[str, Any]]
    with MongoClient(target.mongodb_url, serverSelectionTimeoutMS=5000) as mongo:
        mongo.drop_database(target.mongodb_database)


def trade_request(trade_id: str) -> bytes:
    """A ``trade.requested`` event as an external producer writes it (the documented contract)."""
    event = {
        "schema_version": 1,
        "trade_id": trade_id,
        "trace_id": f"trace-{trade_id}",
        "netuid": NETUID,
        "hotkey": HOTKEY,
        "requested_at": datetime.now(UTC).isoformat(),
    }
    return json.dumps(event).encode()


def send(redis: Redis, stream: str, trades: int, prefix: str) -> dict[str, int]:
    """XADD the trades, pipelined; each trade id with the ms of its entry id."""
    ids = [f"{prefix}-{index:06d}" for index in range(trades)]
    requested: dict[str, int] = {}
    for start in range(0, trades, SEND_BATCH):
        batch = ids[start : start + SEND_BATCH]
        pipe = redis.pipeline(transaction=False)
        for trade_id in batch:
            pipe.xadd(stream, {"__data__": trade_request(trade_id)})
        for trade_id, entry_id in zip(batch, pipe.execute(), strict=True):
            requested[trade_id] = entry_ms(entry_id)
    return requested


def entry_ms(entry_id: bytes) -> int:
    """The millisecond time Redis put in the entry id (``<ms>-<seq>``)."""
    return int(entry_id.split(b"-", 1)[0])


def decode(fields: dict[bytes, bytes], model: type[Event]) -> Event:
    """An event FastStream published: its binary envelope around the JSON body."""
    body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
    return model.model_validate_json(body)


def collect(
    redis: Redis,
    stream: str,
    requested: dict[str, int],
    *,
    timeout: float,
    stall: float,
    procs: Processes,
    quiet: bool = False,
) -> dict[str, Completed]:
    """Read ``stake.executed`` from its start until every trade is there, or time runs out."""
    done: dict[str, Completed] = {}
    last_id = b"0"
    started = progressed = shown = time.monotonic()
    while len(done) < len(requested):
        now = time.monotonic()
        if now - started > timeout or now - progressed > stall:
            why = "timed out" if now - started > timeout else f"none completed in {stall:.0f} s"
            print(f"giving up ({why}): {len(done)} of {len(requested)} completed", file=sys.stderr)
            break
        if not quiet and now - shown >= PROGRESS_SECONDS:
            print(f"  {len(done)}/{len(requested)} completed after {now - started:.0f} s",
                  file=sys.stderr)  # fmt: skip
            shown = now
        procs.require_running()
        before = len(done)
        last_id = read_completed(redis, stream, last_id, requested, done)
        if len(done) > before:
            progressed = time.monotonic()
    return done


def read_completed(
    redis: Redis, stream: str, last_id: bytes, requested: dict[str, int], done: dict[str, Completed]
) -> bytes:
    """One blocking XREAD after ``last_id``; adds the requested trades found to ``done``."""
    reply = cast(list[tuple[bytes, Entries]],
                 redis.xread({stream: last_id}, count=READ_BATCH, block=1000))  # fmt: skip
    for _stream, entries in reply:
        for entry_id, fields in entries:
            last_id = entry_id
            event = cast(StakeExecuted, decode(fields, StakeExecuted))
            if event.trade_id in requested:
                skip = event.skip_reason.value if event.skip_reason is not None else None
                done[event.trade_id] = Completed(
                    requested[event.trade_id],
                    entry_ms(entry_id),
                    event.action.value,
                    event.mode,
                    skip,
                )
    return last_id


def stream_times(redis: Redis, stream: str, model: type[Event]) -> dict[str, int]:
    """Each trade's entry-id time (ms) on an intermediate stream, for the per-hop breakdown."""
    entries = cast(Entries, redis.xrange(stream))
    return {decode(fields, model).trade_id: entry_ms(entry_id) for entry_id, fields in entries}


# --- the report ---


def percentile(values: Sequence[int], percent: float) -> int:
    """Nearest-rank percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def spread(values: Sequence[int]) -> str:
    if not values:
        return "n/a"
    return f"p50 {percentile(values, 50):6d}  p99 {percentile(values, 99):6d}  max {max(values):6d}"


def hop_breakdown(
    redis: Redis, settings: Settings, done: dict[str, Completed]
) -> list[tuple[str, list[int]]]:
    """Per hop, the ms from the entry it read to the entry it wrote (queueing included)."""
    fetched = stream_times(redis, settings.stream_tweets_fetched, TweetsFetched)
    scored = stream_times(redis, settings.stream_sentiment_scored, SentimentScored)
    ids = [i for i in done if i in fetched and i in scored]
    return [
        ("tweet-fetcher", [fetched[i] - done[i].requested_ms for i in ids]),
        ("sentiment-scorer", [scored[i] - fetched[i] for i in ids]),
        ("stake-executor", [done[i].executed_ms - scored[i] for i in ids]),
    ]


def dead_letters(redis: Redis, hops: Sequence[Hop]) -> dict[str, int]:
    return {hop.dead_letter_stream: redis.xlen(hop.dead_letter_stream) for hop in hops}


def print_layout(replicas: int, log_dir: Path) -> None:
    print(f"\n{os.cpu_count()} CPUs; each consumer replica is one `faststream run --factory` "
          f"process (logs: {log_dir}):")  # fmt: skip
    for hop, factory in FACTORIES.items():
        print(f"  {hop.value:17} x{replicas}  {factory}")
    print("  Desearch, Chutes  x1  python -m offline.desearch, offline.chutes (zero latency)")
    print("  chain             in memory (offline.substrate)")


def report(
    *,
    trades: int,
    send_seconds: float,
    done: dict[str, Completed],
    breakdown: list[tuple[str, list[int]]],
    dlq: dict[str, int],
) -> None:
    print(f"\ntrades sent:      {trades} (XADD, pipelined, in {send_seconds:.2f} s)")
    print(f"trades completed: {len(done)}" + ("" if len(done) == trades else " (INCOMPLETE)"))
    if not done:
        print("no trade reached stake.executed")
        return
    first = min(c.requested_ms for c in done.values())
    last = max(c.executed_ms for c in done.values())
    seconds = max(last - first, 1) / 1000
    print(f"end to end:       {len(done) / seconds:.1f} trades/s ({len(done)} in {seconds:.2f} s, "
          "first trade.requested to last stake.executed)")  # fmt: skip
    latencies = [c.latency_ms for c in done.values()]
    print(f"latency ms, trade.requested -> stake.executed:  {spread(latencies)}")
    for name, values in breakdown:
        print(f"  {name:17} (its input entry -> its output entry):  {spread(values)}")
    outcomes = Counter(
        f"{c.action}/{c.mode}" + (f" skipped ({c.skip_reason})" if c.skip_reason else "")
        for c in done.values()
    )
    print("by outcome:       " + ", ".join(f"{k}: {v}" for k, v in outcomes.most_common()))
    if any(dlq.values()) or len(done) < trades:
        print("dead letters:     " + ", ".join(f"{k}: {v}" for k, v in dlq.items()))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--trades", type=int, default=1000)
    parser.add_argument("--replicas", type=int, default=1, help="processes per consumer")
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for all trades")
    parser.add_argument("--stall", type=float, default=60, help="give up after this long "
                        "without a trade completing")  # fmt: skip
    parser.add_argument("--fake-port", type=int, default=18090)
    args = parser.parse_args()
    if args.trades < 1 or args.replicas < 1:
        parser.error("--trades and --replicas must be at least 1")
    return args


def bench_target(
    fake_port: int, *, redis_url: str = REDIS_URL, mongodb_database: str = MONGODB_DATABASE
) -> Target:
    """The databases from REDIS_URL/MONGODB_URL/MONGODB_DATABASE (defaults as given), refusing
    production's own: a bench wipes them."""
    target = Target(
        redis_url=os.environ.get("REDIS_URL", redis_url),
        mongodb_url=os.environ.get("MONGODB_URL", MONGODB_URL),
        mongodb_database=os.environ.get("MONGODB_DATABASE", mongodb_database),
        fake_port=fake_port,
    )
    if urlsplit(target.redis_url).path.strip("/") in ("", "0"):
        sys.exit(f"refusing to flush Redis database 0 ({target.redis_url}): use a dedicated one")
    if target.mongodb_database == Settings.model_fields["mongodb_database"].default:
        sys.exit(f"refusing to drop MongoDB database {target.mongodb_database!r}")
    return target


def main() -> None:
    args = parse_args()
    target = bench_target(args.fake_port)
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    settings = Settings()  # stream names, read as the consumers read them
    hops = list(topology(settings).values())
    redis = Redis.from_url(target.redis_url)
    run_id = uuid.uuid4().hex[:12]
    try:
        wipe(redis, target)
        log_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
        # Stopped in reverse: the consumers finish the entries in hand (SHUTDOWN_TIMEOUT_SECONDS)
        # while the fakes still answer.
        with processes(log_dir) as fakes, processes(log_dir) as procs:
            start_fakes(fakes, target.fake_port)
            start_consumers(procs, target, args.replicas)
            wait_for_consumers(redis, len(FACTORIES) * args.replicas, procs)
            warm_up(redis, settings, run_id, len(FACTORIES) * args.replicas, procs)
            started = time.monotonic()
            requested = send(redis, settings.stream_trade_requested, args.trades, f"bench-{run_id}")
            send_seconds = time.monotonic() - started
            done = collect(redis, settings.stream_stake_executed, requested,
                           timeout=args.timeout, stall=args.stall, procs=procs)  # fmt: skip
        print_layout(args.replicas, procs.log_dir)
        report(
            trades=args.trades,
            send_seconds=send_seconds,
            done=done,
            breakdown=hop_breakdown(redis, settings, done),
            dlq=dead_letters(redis, hops),
        )
    finally:
        redis.close()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the children are stopped by then (``finally``)
        sys.exit(130)
