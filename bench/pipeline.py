"""``make bench-pipeline``: trades through the three consumers, run as in production, beside a
Celery chain doing the same hops on the same servers.

Why a separate bench: ``make bench`` measures the gateway's read path; this one measures what a
trade costs once admitted, which is bound by the consumers, Redis and MongoDB. So everything but
the outside world is real: each consumer is its own ``faststream run --factory`` process
(``--replicas`` per consumer, sharing their group), on a local Redis and MongoDB; Desearch and
Chutes are the zero-latency offline stand-ins (``offline.desearch``, ``offline.chutes``) and
the chain is the in-memory fake (``bench.apps:stake_executor``). (``python -m consumers <name>``
runs the same app, and only adds a restart when the group is lost, which never happens here.)

One invocation runs, each from empty databases:

1. ours, ``--trades`` written at once, with the first ``--replicas`` count (1);
2. the anchor (``bench.celery_chain``), right after: a Celery chain of three tasks, prefork
   workers as many as our consumer processes, ``acks_late``, one insert per hop into the same
   MongoDB server, the same number of trades written at once;
3. ours again for each further ``--replicas`` count (2 by default);
4. ours, open loop: ``--rate`` trades a second for ``--duration`` seconds, for the latency at
   a steady offered load rather than under a backlog;

then prints each run's figures, ours against the anchor, and the path of a PNG (each hop's
latency distribution, throughput over each run).

Trades enter as an external producer writes them (plain JSON in ``__data__``, pipelined XADDs).
Latency is measured by Redis's own clock: from a trade's ``trade.requested`` entry id to its
``stake.executed`` entry id (entry ids start with the millisecond Redis assigned), so neither the
bench's scheduling nor clock skew between processes enters the figures. Per hop, "latency" is
from the entry it read to the entry it wrote; its queue wait ends, and its service time starts,
when its consumer took the entry in hand (the hop record's ``started_at``), and the service
time ends with the record's ``finished_at``. MongoDB commands are the consumers' own count
(PyMongo command monitoring, ``taodiv_mongodb_commands_total`` on each one's metrics port);
Redis commands are the server's INFO commandstats over the run, less the bench's own. The Redis
database and MongoDB database used are wiped at start: never point them at data you want to
keep.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from faststream.redis.parser import BinaryMessageFormatV1
from pymongo import MongoClient
from redis import Redis

from bench import celery_chain
from bench.apps import HOTKEY
from bench.figures import percentile, picture, spread
from bench.processes import (
    Processes,
    exit_on_sigterm,
    polling_consumers,
    processes,
    start_fakes,
)
from bench.usage import children, mongodb_commands, redis_commands, rss_mb
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
TICK_SECONDS = 0.01  # the open loop's pace
PICTURE = Path(".local") / "bench-pipeline.png"

Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True)
class Target:
    """Where the bench runs: the Redis and MongoDB databases it wipes, and the stand-ins' ports
    (Desearch on ``fake_port``, Chutes on the next one, the consumers' metrics after them)."""

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

    def metrics_port(self, index: int) -> int:
        return self.fake_port + 2 + index


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


@dataclass
class HopTimes:
    """One hop's figures over a run, in ms: entry to entry, queue wait, service time."""

    latency: list[float] = field(default_factory=list)
    wait: list[float] = field(default_factory=list)
    service: list[float] = field(default_factory=list)


@dataclass
class Run:
    """What one run measured."""

    name: str
    processes: int  # consumer (or worker) processes
    sent: int
    send_seconds: float
    done: dict[str, Completed]
    hops: dict[str, HopTimes] = field(default_factory=dict)
    mongodb_commands: Counter[str] | None = None
    redis_commands: int | None = None
    rss: dict[str, float] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """First trade requested to last one completed."""
        if not self.done:
            return 0.0
        first = min(c.requested_ms for c in self.done.values())
        last = max(c.executed_ms for c in self.done.values())
        return max(last - first, 1) / 1000

    @property
    def trades_per_second(self) -> float:
        return len(self.done) / self.seconds if self.done else 0.0

    @property
    def latencies(self) -> list[float]:
        return [float(c.latency_ms) for c in self.done.values()]


# --- child processes ---


def consumer_env(target: Target) -> dict[str, str]:
    """The consumers' settings: this bench's databases, the fakes, quiet logs, paper trading."""
    return {
        **os.environ,
        "REDIS_URL": target.redis_url,
        "MONGODB_URL": target.mongodb_url,
        "MONGODB_DATABASE": target.mongodb_database,
        "LOG_LEVEL": "WARNING",
        # Replicas on one host would all ask for the same Prometheus port; each process that
        # should serve its metrics is given a port of its own.
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


def start_consumers(procs: Processes, target: Target, replicas: int) -> list[int]:
    """Every consumer process, each serving its metrics on a port of its own (returned)."""
    env = consumer_env(target)
    ports: list[int] = []
    for hop, factory in FACTORIES.items():
        for replica in range(1, replicas + 1):
            port = target.metrics_port(len(ports))
            command = [sys.executable, "-m", "faststream", "run", "--factory", factory]
            procs.start(f"{hop.value}#{replica}", command, {**env, "METRICS_PORT": str(port)})
            ports.append(port)
    return ports


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
    reader = Reader(redis, settings.stream_stake_executed)
    done = reader.collect(requested, timeout=60, stall=60, procs=procs, quiet=True)
    if len(done) < trades:
        raise RuntimeError(f"only {len(done)} of {trades} warm-up trades completed within 60 s")


# --- sending and collecting ---


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


def send(redis: Redis, stream: str, trades: int, prefix: str, start: int = 0) -> dict[str, int]:
    """XADD the trades, pipelined; each trade id with the ms of its entry id."""
    ids = [f"{prefix}-{index:06d}" for index in range(start, start + trades)]
    requested: dict[str, int] = {}
    for first in range(0, trades, SEND_BATCH):
        batch = ids[first : first + SEND_BATCH]
        pipe = redis.pipeline(transaction=False)
        for trade_id in batch:
            pipe.xadd(stream, {"__data__": trade_request(trade_id)})
        for trade_id, entry_id in zip(batch, pipe.execute(), strict=True):
            requested[trade_id] = entry_ms(entry_id)
    return requested


def send_at_rate(
    redis: Redis, stream: str, *, rate: float, duration: float, prefix: str
) -> dict[str, int]:
    """The open loop: ``rate`` trades a second for ``duration`` seconds, on schedule whatever
    the pipeline does with them."""
    total = int(rate * duration)
    requested: dict[str, int] = {}
    started = time.monotonic()
    while len(requested) < total:
        due = min(total, int((time.monotonic() - started) * rate) + 1)
        if due > len(requested):
            requested |= send(redis, stream, due - len(requested), prefix, start=len(requested))
        time.sleep(TICK_SECONDS)
    return requested


def entry_ms(entry_id: bytes) -> int:
    """The millisecond time Redis put in the entry id (``<ms>-<seq>``)."""
    return int(entry_id.split(b"-", 1)[0])


def decode(fields: dict[bytes, bytes], model: type[Event]) -> Event:
    """An event FastStream published: its binary envelope around the JSON body."""
    body, _headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
    return model.model_validate_json(body)


class Reader:
    """Reads ``stake.executed`` (or the anchor's ``celery.done``) from its start, counting its
    own XREADs so that they can be left out of the Redis figures."""

    def __init__(self, redis: Redis, stream: str) -> None:
        self.redis = redis
        self.stream = stream
        self.reads = 0
        self._last_id = b"0"

    def collect(
        self,
        requested: dict[str, int],
        *,
        timeout: float,
        stall: float,
        procs: Processes,
        quiet: bool = False,
    ) -> dict[str, Completed]:
        """Read until every requested trade is there, or time runs out."""
        done: dict[str, Completed] = {}
        started = progressed = shown = time.monotonic()
        while len(done) < len(requested):
            now = time.monotonic()
            if now - started > timeout or now - progressed > stall:
                why = "timed out" if now - started > timeout else f"none completed in {stall:.0f} s"
                print(f"giving up ({why}): {len(done)} of {len(requested)} completed",
                      file=sys.stderr)  # fmt: skip
                break
            if not quiet and now - shown >= PROGRESS_SECONDS:
                print(f"  {len(done)}/{len(requested)} completed after {now - started:.0f} s",
                      file=sys.stderr)  # fmt: skip
                shown = now
            procs.require_running()
            before = len(done)
            for entry_id, fields in self._read():
                trade_id, action, mode, skip = self._completion(fields)
                if trade_id in requested:
                    done[trade_id] = Completed(
                        requested[trade_id], entry_ms(entry_id), action, mode, skip
                    )
            if len(done) > before:
                progressed = time.monotonic()
        return done

    def _read(self) -> Entries:
        self.reads += 1
        read = self.redis.xread({self.stream: self._last_id}, count=READ_BATCH, block=1000)
        reply = cast(list[tuple[bytes, Entries]], read)
        entries = [entry for _stream, stream_entries in reply for entry in stream_entries]
        if entries:
            self._last_id = entries[-1][0]
        return entries

    def _completion(self, fields: dict[bytes, bytes]) -> tuple[str, str, str, str | None]:
        """Trade id, action, mode and skip reason of a completion entry."""
        if b"__data__" not in fields:  # the anchor's
            return fields[b"trade_id"].decode(), "chain", "celery", None
        event = cast(StakeExecuted, decode(fields, StakeExecuted))
        skip = event.skip_reason.value if event.skip_reason is not None else None
        return event.trade_id, event.action.value, event.mode, skip


def stream_times(redis: Redis, stream: str, model: type[Event]) -> dict[str, int]:
    """Each trade's entry-id time (ms) on an intermediate stream, for the per-hop breakdown."""
    entries = cast(Entries, redis.xrange(stream))
    return {decode(fields, model).trade_id: entry_ms(entry_id) for entry_id, fields in entries}


def hop_times(
    redis: Redis, target: Target, settings: Settings, done: dict[str, Completed]
) -> dict[str, HopTimes]:
    """Per hop: from the entry it read to the entry it wrote; and, from its hop records, how
    long the entry waited before its consumer took it, and how long the hop then took."""
    fetched = stream_times(redis, settings.stream_tweets_fetched, TweetsFetched)
    scored = stream_times(redis, settings.stream_sentiment_scored, SentimentScored)
    inputs = {
        HopName.TWEET_FETCHER.value: {t: c.requested_ms for t, c in done.items()},
        HopName.SENTIMENT_SCORER.value: fetched,
        HopName.STAKE_EXECUTOR.value: scored,
    }
    outputs = {
        HopName.TWEET_FETCHER.value: fetched,
        HopName.SENTIMENT_SCORER.value: scored,
        HopName.STAKE_EXECUTOR.value: {t: c.executed_ms for t, c in done.items()},
    }
    times = {hop: HopTimes() for hop in inputs}
    for hop, read in inputs.items():
        written = outputs[hop]
        times[hop].latency = [
            float(written[t] - read[t]) for t in done if t in read and t in written
        ]
    mongo: MongoClient[dict[str, Any]]
    with MongoClient(target.mongodb_url, serverSelectionTimeoutMS=5000, tz_aware=True) as mongo:
        records: Iterable[dict[str, Any]] = mongo[target.mongodb_database]["hops"].find(
            {}, {"trade_id": 1, "hop": 1, "started_at": 1, "finished_at": 1}
        )
        for record in records:
            trade, hop = record["trade_id"], record["hop"]
            read_ms = inputs.get(hop, {}).get(trade)
            if trade not in done or read_ms is None or record.get("finished_at") is None:
                continue
            started = record["started_at"].timestamp() * 1000
            times[hop].wait.append(started - read_ms)
            times[hop].service.append(record["finished_at"].timestamp() * 1000 - started)
    return times


def dead_letters(redis: Redis, hops: Sequence[Hop]) -> dict[str, int]:
    return {hop.dead_letter_stream: redis.xlen(hop.dead_letter_stream) for hop in hops}


# --- the runs ---


@dataclass(frozen=True)
class Load:
    """What a run offers: ``trades`` at once, or ``rate`` a second for ``duration`` seconds."""

    trades: int = 0
    rate: float = 0.0
    duration: float = 0.0

    def describe(self) -> str:
        if self.rate:
            return f"open loop, {self.rate:g}/s for {self.duration:g} s"
        return f"{self.trades} at once"


def run_ours(
    target: Target, settings: Settings, load: Load, *, replicas: int, args: argparse.Namespace
) -> Run:
    redis = Redis.from_url(target.redis_url)
    run_id = uuid.uuid4().hex[:12]
    hops = list(topology(settings).values())
    name = f"ours, {replicas} replica{'s' if replicas > 1 else ''}, {load.describe()}"
    print(f"- {name}", file=sys.stderr)
    try:
        wipe(redis, target)
        log_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
        # Stopped in reverse: the consumers finish the entries in hand (SHUTDOWN_TIMEOUT_SECONDS)
        # while the fakes still answer.
        with processes(log_dir) as fakes, processes(log_dir) as procs:
            start_fakes(fakes, target.fake_port)
            ports = start_consumers(procs, target, replicas)
            wait_for_consumers(redis, len(FACTORIES) * replicas, procs)
            warm_up(redis, settings, run_id, len(FACTORIES) * replicas, procs)
            mongo_before, redis_before = mongodb_commands(ports), redis_commands(redis)
            started = time.monotonic()
            stream, prefix = settings.stream_trade_requested, f"bench-{run_id}"
            if load.rate:
                requested = send_at_rate(redis, stream, rate=load.rate, duration=load.duration,
                                         prefix=prefix)  # fmt: skip
            else:
                requested = send(redis, stream, load.trades, prefix)
            send_seconds = time.monotonic() - started
            reader = Reader(redis, settings.stream_stake_executed)
            done = reader.collect(requested, timeout=args.timeout, stall=args.stall, procs=procs)
            redis_after = redis_commands(redis)  # before anything else of the bench's own
            mongo = mongodb_commands(ports) - mongo_before
            rss = {n: rss_mb(procs.pid(n)) for n in procs.names()}
            rss |= {n: rss_mb(fakes.pid(n)) for n in fakes.names()}
        own = len(requested) + reader.reads + 1  # its XADDs, XREADs, and the first INFO
        return Run(
            name=name,
            processes=len(FACTORIES) * replicas,
            sent=len(requested),
            send_seconds=send_seconds,
            done=done,
            hops=hop_times(redis, target, settings, done),
            mongodb_commands=mongo,
            redis_commands=redis_after - redis_before - own,
            rss=rss,
            dead_letters=dead_letters(redis, hops),
        )
    finally:
        redis.close()


def run_celery(target: Target, trades: int, *, workers: int, args: argparse.Namespace) -> Run:
    """The anchor: ``trades`` Celery chains sent at once to ``workers`` prefork processes."""
    redis = Redis.from_url(target.redis_url)
    name = f"Celery chain, {workers} prefork workers, acks_late, {trades} at once"
    print(f"- {name}", file=sys.stderr)
    celery_chain.app.conf.broker_url = target.redis_url
    env = {
        **os.environ,
        celery_chain.BROKER_ENV: target.redis_url,
        celery_chain.MONGODB_URL_ENV: target.mongodb_url,
        celery_chain.MONGODB_DATABASE_ENV: target.mongodb_database,
    }
    try:
        wipe(redis, target)
        log_dir = Path(tempfile.mkdtemp(prefix="bench-celery-"))
        with processes(log_dir) as procs:
            procs.start("celery", celery_chain.worker_command(workers), env)
            reader = Reader(redis, celery_chain.DONE_STREAM)
            warm = [f"warmup-{i}" for i in range(workers)]
            celery_chain.send(warm)
            warmed = reader.collect(dict.fromkeys(warm, 0), timeout=120, stall=120,
                                    procs=procs, quiet=True)  # fmt: skip
            if len(warmed) < len(warm):
                raise RuntimeError("the Celery warm-up chains did not complete within 120 s")
            redis_before = redis_commands(redis)
            sent_ms = _redis_ms(redis)
            ids = [f"celery-{i:06d}" for i in range(trades)]
            started = time.monotonic()
            celery_chain.send(ids)
            send_seconds = time.monotonic() - started
            done = reader.collect(dict.fromkeys(ids, sent_ms), timeout=args.timeout,
                                  stall=args.stall, procs=procs)  # fmt: skip
            redis_after = redis_commands(redis)
            pid = procs.pid("celery")
            rss = {"celery (main)": rss_mb(pid)}
            rss |= {f"celery worker {i}": rss_mb(c) for i, c in enumerate(children(pid), 1)}
        return Run(
            name=name,
            processes=workers,
            sent=trades,
            send_seconds=send_seconds,
            done=done,
            # By construction: one insert per task (bench.celery_chain).
            mongodb_commands=Counter(insert=3 * len(done)),
            redis_commands=redis_after - redis_before - reader.reads - 2,  # its XREADs, TIME, INFO
            rss=rss,
        )
    finally:
        redis.close()


def _redis_ms(redis: Redis) -> int:
    seconds, micros = redis.time()
    return seconds * 1000 + micros // 1000


# --- the report ---


def report(run: Run) -> None:
    print(f"\n{run.name}")
    print(f"  sent:             {run.sent} (in {run.send_seconds:.2f} s)")
    print(
        f"  completed:        {len(run.done)}"
        + ("" if len(run.done) == run.sent else " (INCOMPLETE)")
    )
    if not run.done:
        return
    print(f"  end to end:       {run.trades_per_second:.1f} trades/s ({len(run.done)} in "
          f"{run.seconds:.2f} s, first requested to last completed)")  # fmt: skip
    print(f"  latency ms:       {spread(run.latencies)}")
    for hop, times in run.hops.items():
        print(f"    {hop:17} entry to entry {spread(times.latency, (50, 99))}")
        print(f"    {'':17} queue wait     {spread(times.wait, (50, 99))}")
        print(f"    {'':17} service        {spread(times.service, (50, 99))}")
    if run.mongodb_commands is not None:
        total = sum(run.mongodb_commands.values())
        kinds = ", ".join(
            f"{k} {v / len(run.done):.2f}" for k, v in run.mongodb_commands.most_common()
        )
        print(f"  MongoDB commands: {total / len(run.done):.2f} per trade ({kinds})")
    if run.redis_commands is not None:
        print(f"  Redis commands:   {run.redis_commands / len(run.done):.2f} per trade")
    if run.rss:
        print("  RSS MiB:          " + ", ".join(f"{k} {v:.0f}" for k, v in run.rss.items()))
    outcomes = Counter(
        f"{c.action}/{c.mode}" + (f" skipped ({c.skip_reason})" if c.skip_reason else "")
        for c in run.done.values()
    )
    print("  by outcome:       " + ", ".join(f"{k}: {v}" for k, v in outcomes.most_common()))
    if any(run.dead_letters.values()) or len(run.done) < run.sent:
        print("  dead letters:     " + ", ".join(f"{k}: {v}" for k, v in run.dead_letters.items()))


def summary(runs: Sequence[Run], anchor: Run | None, open_loop: Run | None, png: Path) -> None:
    print("\nsummary (this machine, now; the ratio is what compares across machines)")
    for run in runs:
        p50, p99 = percentile(run.latencies, 50), percentile(run.latencies, 99)
        print(f"  {run.name:55} {run.trades_per_second:7.1f} trades/s  "
              f"p50 {p50:6.0f} ms  p99 {p99:6.0f} ms")  # fmt: skip
    if anchor is not None and anchor.done:
        print(f"  {anchor.name:55} {anchor.trades_per_second:7.1f} chains/s")
        for run in runs:
            if run.done:
                ratio = run.trades_per_second / anchor.trades_per_second
                print(f"  ratio, {run.name} / Celery: {ratio:.2f}x")
    if open_loop is not None and open_loop.done:
        print(f"  {open_loop.name}: p50 {percentile(open_loop.latencies, 50):.0f} ms, "
              f"p95 {percentile(open_loop.latencies, 95):.0f} ms, "
              f"p99 {percentile(open_loop.latencies, 99):.0f} ms (goal: p99 < 500 ms)")  # fmt: skip
    print(f"  picture: {png.resolve()}")


def draw(runs: Sequence[Run], anchor: Run | None, open_loop: Run | None, path: Path) -> Path:
    shown = [*runs[:1], *([open_loop] if open_loop else [])]
    latencies = {
        run.name: {
            **{hop: times.latency for hop, times in run.hops.items()},
            "whole trade": run.latencies,
        }
        for run in shown
    }
    everything = [*runs, *([open_loop] if open_loop else []), *([anchor] if anchor else [])]
    completions = {run.name: [c.executed_ms for c in run.done.values()] for run in everything}
    return picture(path, latencies=latencies, completions=completions)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--trades", type=int, default=1000, help="written at once, per run")
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2],
                        help="processes per consumer; one run for each")  # fmt: skip
    parser.add_argument("--rate", type=float, default=100.0,
                        help="the open loop's trades per second (0: no open-loop run)")  # fmt: skip
    parser.add_argument("--duration", type=float, default=30.0, help="the open loop's seconds")
    parser.add_argument("--celery", action=argparse.BooleanOptionalAction, default=True,
                        help="run the Celery anchor")  # fmt: skip
    parser.add_argument("--timeout", type=float, default=600, help="longest wait for all trades")
    parser.add_argument("--stall", type=float, default=60, help="give up after this long "
                        "without a trade completing")  # fmt: skip
    parser.add_argument("--fake-port", type=int, default=18090)
    parser.add_argument("--png", type=Path, default=PICTURE, help="where the picture goes")
    args = parser.parse_args()
    if args.trades < 1 or min(args.replicas) < 1 or args.rate < 0:
        parser.error("--trades and --replicas must be at least 1, --rate not negative")
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
    print(f"{os.cpu_count()} CPUs; each consumer replica is one `faststream run --factory` process "
          "(consumers.*.app, the stake-executor's chain in memory: bench.apps); Desearch and "
          "Chutes: offline.desearch, offline.chutes (zero latency); paper trading")  # fmt: skip
    # The anchor runs right after ours at the same size: on a shared machine the load drifts,
    # and the ratio is only as good as the two runs are close in time.
    runs = [run_ours(target, settings, Load(trades=args.trades), replicas=args.replicas[0],
                     args=args)]  # fmt: skip
    anchor = None
    if args.celery:
        workers = len(FACTORIES) * args.replicas[0]
        anchor = run_celery(target, args.trades, workers=workers, args=args)
    runs += [run_ours(target, settings, Load(trades=args.trades), replicas=r, args=args)
             for r in args.replicas[1:]]  # fmt: skip
    open_loop = None
    if args.rate:
        load = Load(rate=args.rate, duration=args.duration)
        open_loop = run_ours(target, settings, load, replicas=args.replicas[0], args=args)
    for run in [*runs, *([open_loop] if open_loop else []), *([anchor] if anchor else [])]:
        report(run)
    png = draw(runs, anchor, open_loop, args.png)
    summary(runs, anchor, open_loop, png)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # the children are stopped by then (``finally``)
        sys.exit(130)
