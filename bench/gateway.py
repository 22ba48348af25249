"""``make bench``: the cached dividends endpoint against a bare FastAPI endpoint, under wrk.

Starts each app with ``python -m gateway``, the server production runs (GATEWAY_WORKERS
workers). It first sends ``--cold`` concurrent requests for a key just deleted from Redis, to
workers that have seen nothing yet, and counts the chain reads they caused (the gateway's own
``taodiv_chain_call_duration_seconds`` count, summed over its workers). Then it drives each
endpoint with wrk at the same connection count and duration, in alternating rounds (a shared
machine's speed drifts; alternating exposes both endpoints to the drift alike), and prints the
median round's requests/s and p50/p99 latency, all rounds' errors and timeouts, the CPU time
the server's processes used per request (read from /proc; the figure other load on a shared
machine distorts least), the ratios the targets are stated in, and the Redis calls the
gateway's workers saw fail over the whole run (``taodiv_redis_failures_total``): each is a
request that went without the shared cache.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from bench.apps import HOTKEY
from gateway.dividends import DividendQuery

CACHED = "cached /api/v1/tao_dividends"
BARE = "bare FastAPI /bare"
TOKEN = "bench-reader-token-0123456789"  # noqa: S105 - a throwaway token for the bench run
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
# The gateway's metrics the bench reads back (shared.metrics), summed over its workers.
CHAIN_READS = "taodiv_chain_call_duration_seconds_count"
REDIS_FAILURES = "taodiv_redis_failures_total"


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    timeouts: int
    requests: int
    # CPU time the server's processes used during the run (user + system, all workers).
    cpu_seconds: float = 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_seconds / max(self.requests, 1) * 1e6


def parse_wrk(name: str, output: str) -> Result:
    def latency(percent: str) -> float:
        match = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk printed no {percent}% latency:\n{output}")
        return float(match.group(1)) * _UNITS[match.group(2)]

    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    connect, read, write, timeouts = (int(x) for x in socket.groups()) if socket else (0, 0, 0, 0)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    if rps is None or total is None:
        raise ValueError(f"unexpected wrk output:\n{output}")
    return Result(
        name=name,
        rps=float(rps.group(1)),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        errors=connect + read + write + (int(non_2xx.group(1)) if non_2xx else 0),
        timeouts=timeouts,
        requests=int(total.group(1)),
    )


@dataclass(frozen=True)
class Server:
    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the server and its workers (Linux /proc)."""
        ticks, total, pids = os.sysconf("SC_CLK_TCK"), 0.0, [self.pid]
        while pids:
            pid = pids.pop()
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
                for task in Path(f"/proc/{pid}/task").iterdir():
                    pids += [int(child) for child in (task / "children").read_text().split()]
        return total


@contextlib.contextmanager
def serving(factory: str, port: int, workers: int, env: dict[str, str]) -> Iterator[Server]:
    command = [
        sys.executable, "-m", "gateway", "--app", factory,
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env})  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            time.sleep(0.25)
        else:
            raise RuntimeError(f"{factory} did not start on port {port}")
        yield Server(base, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_wrk(
    name: str, server: Server, path: str, args: argparse.Namespace, headers: list[str]
) -> Result:
    """One wrk run against ``server``, with the CPU time the server used meanwhile."""
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.seconds}s",
               "--latency", "--timeout", "5s"]  # fmt: skip
    for header in headers:
        command += ["-H", header]
    cpu_before = server.cpu_seconds()
    output = subprocess.run(  # noqa: S603
        [*command, server.url + path], check=True, capture_output=True, text=True
    ).stdout
    return replace(parse_wrk(name, output), cpu_seconds=server.cpu_seconds() - cpu_before)


def cold_burst(url: str, headers: dict[str, str], requests: int) -> dict[int, int]:
    """``requests`` concurrent GETs, each on its own connection, so the workers share them; the
    answers counted by status."""

    async def burst() -> list[int]:
        limits = httpx.Limits(max_connections=requests, max_keepalive_connections=0)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            responses = await asyncio.gather(
                *(client.get(url, headers=headers) for _ in range(requests))
            )
        return [r.status_code for r in responses]

    statuses: dict[int, int] = {}
    for status in asyncio.run(burst()):
        statuses[status] = statuses.get(status, 0) + 1
    return statuses


def scrape(base: str, name: str) -> dict[str, float]:
    """The gateway's metric ``name`` summed over its workers, by the value of its first label
    ("" when it has none)."""
    text = httpx.get(f"{base}/metrics", timeout=10).raise_for_status().text
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                label = next(iter(sample.labels.values()), "")
                values[label] = values.get(label, 0.0) + sample.value
    return values


def counts(values: dict[str, float]) -> str:
    """``total (label n, ...)`` for the labels that counted anything."""
    parts = [f"{label} {value:.0f}" for label, value in sorted(values.items()) if value]
    return f"{sum(values.values()):.0f}" + (f" ({', '.join(parts)})" if parts else "")


def median(runs: list[Result]) -> Result:
    """The run of median requests/s, with its latencies; errors, timeouts, requests and server
    CPU time of all runs."""
    middle = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    return replace(
        middle,
        errors=sum(r.errors for r in runs),
        timeouts=sum(r.timeouts for r in runs),
        requests=sum(r.requests for r in runs),
        cpu_seconds=sum(r.cpu_seconds for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "2")))
    parser.add_argument("--cold", type=int, default=1000, help="concurrent cold requests")
    parser.add_argument("--port", type=int, default=18080, help="the gateway's; bare: the next")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: bash scripts/provision.sh install")

    env = {
        "API_TOKENS": f"bench:{TOKEN}:read",
        "RATE_LIMIT_REQUESTS": "1000000000",
        "LOG_LEVEL": "WARNING",
    }
    query = f"/api/v1/tao_dividends?netuid=18&hotkey={HOTKEY}"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    runs: dict[str, list[Result]] = {CACHED: [], BARE: []}
    with Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")) as redis:
        redis.delete(DividendQuery(18, HOTKEY).cache_key)  # so the first requests are cold
    with (
        serving("bench.apps:gateway", args.port, args.workers, env) as gateway,
        serving("bench.apps:bare", args.port + 1, args.workers, {}) as bare,
    ):
        cold = cold_burst(gateway.url + query, auth, args.cold)
        chain_reads = sum(scrape(gateway.url, CHAIN_READS).values())
        cold_failures = scrape(gateway.url, REDIS_FAILURES)
        for _ in range(args.rounds):  # alternated, so a drifting machine slows both alike
            header = f"Authorization: Bearer {TOKEN}"
            runs[CACHED].append(run_wrk(CACHED, gateway, query, args, [header]))
            runs[BARE].append(run_wrk(BARE, bare, "/bare", args, []))
        redis_failures = scrape(gateway.url, REDIS_FAILURES)

    print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.seconds}s x {args.rounds} rounds "
          f"(alternated; median shown), uvicorn --workers {args.workers}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(
        f"{'endpoint':32} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'timeouts':>9}"
        f" {'CPU us/req':>10}  req/s per round"
    )
    for results in runs.values():
        r = median(results)
        rounds = " ".join(f"{x.rps:.0f}" for x in results)
        print(f"{r.name:32} {r.rps:10.0f} {r.p50_ms:9.2f} {r.p99_ms:9.2f} {r.errors:7d} "
              f"{r.timeouts:9d} {r.cpu_us_per_request:10.0f}  {rounds}")  # fmt: skip
    cached, reference = median(runs[CACHED]), median(runs[BARE])
    print(f"\ncached/bare requests/s: {cached.rps / reference.rps:.0%} (target >= 75%)")
    # CPU per request is what other load on a shared machine distorts least.
    print(f"bare/cached server CPU per request: "
          f"{reference.cpu_us_per_request / cached.cpu_us_per_request:.0%}")  # fmt: skip
    print(f"cached/bare p99:        {cached.p99_ms / reference.p99_ms:.2f}x (target <= 1.5x)")
    print(f"cached errors/timeouts: {cached.errors}/{cached.timeouts} (target 0/0)")
    print(f"Redis failures:         {counts(redis_failures)} over the run, all workers, of which "
          f"{counts(cold_failures)} in the cold requests (target 0)")  # fmt: skip
    answers = ", ".join(f"{count} x {status}" for status, count in sorted(cold.items()))
    print(f"chain reads:            {chain_reads:.0f} for {args.cold} concurrent cold requests "
          f"to {args.workers} workers ({answers}; target 1)")  # fmt: skip


if __name__ == "__main__":
    main()
