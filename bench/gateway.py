"""``make bench``: the cached dividends endpoint against a bare FastAPI endpoint, under wrk.

Starts each app with ``python -m gateway``, the server production runs (GATEWAY_WORKERS
workers), warms the cache, drives each with wrk at the same connection count and duration, in
alternating rounds (a shared machine's speed drifts; alternating exposes both endpoints to the
drift alike), and prints the median round's requests/s and p50/p99 latency, all rounds' errors
and timeouts, and the ratios the targets are stated in.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx

from bench.apps import HOTKEY

CACHED = "cached /api/v1/tao_dividends"
BARE = "bare FastAPI /bare"
TOKEN = "bench-reader-token-0123456789"  # noqa: S105 - a throwaway token for the bench run
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass(frozen=True)
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    timeouts: int
    requests: int


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


@contextlib.contextmanager
def serving(factory: str, port: int, workers: int, env: dict[str, str]) -> Iterator[str]:
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
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def run_wrk(url: str, connections: int, seconds: int, threads: int, headers: list[str]) -> str:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
               "--timeout", "5s"]  # fmt: skip
    for header in headers:
        command += ["-H", header]
    return subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout  # noqa: S603


def median(runs: list[Result]) -> Result:
    """The run of median requests/s, with its latencies; errors and timeouts of all runs."""
    middle = sorted(runs, key=lambda r: r.rps)[len(runs) // 2]
    return replace(
        middle,
        errors=sum(r.errors for r in runs),
        timeouts=sum(r.timeouts for r in runs),
        requests=sum(r.requests for r in runs),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=10, help="per round and endpoint")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "2")))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: bash scripts/provision.sh install")

    env = {
        "API_TOKENS": f"bench:{TOKEN}:read",
        "RATE_LIMIT_REQUESTS": "1000000000",
        "LOG_LEVEL": "WARNING",
    }
    query = f"/api/v1/tao_dividends?netuid=18&hotkey={HOTKEY}"
    runs: dict[str, list[Result]] = {CACHED: [], BARE: []}
    with (
        serving("bench.apps:gateway", 18080, args.workers, env) as gateway,
        serving("bench.apps:bare", 18081, args.workers, {}) as bare,
    ):
        warm = httpx.get(gateway + query, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        warm.raise_for_status()
        for _ in range(args.rounds):  # alternated, so a drifting machine slows both alike
            output = run_wrk(gateway + query, args.connections, args.seconds, args.threads,
                             [f"Authorization: Bearer {TOKEN}"])  # fmt: skip
            runs[CACHED].append(parse_wrk(CACHED, output))
            output = run_wrk(bare + "/bare", args.connections, args.seconds, args.threads, [])
            runs[BARE].append(parse_wrk(BARE, output))

    print(f"\nwrk -t{args.threads} -c{args.connections} -d{args.seconds}s x {args.rounds} rounds "
          f"(alternated; median shown), uvicorn --workers {args.workers}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    print(
        f"{'endpoint':32} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'timeouts':>9}"
        "  req/s per round"
    )
    for results in runs.values():
        r = median(results)
        rounds = " ".join(f"{x.rps:.0f}" for x in results)
        print(f"{r.name:32} {r.rps:10.0f} {r.p50_ms:9.2f} {r.p99_ms:9.2f} {r.errors:7d} "
              f"{r.timeouts:9d}  {rounds}")  # fmt: skip
    cached, reference = median(runs[CACHED]), median(runs[BARE])
    print(f"\ncached/bare requests/s: {cached.rps / reference.rps:.0%} (target >= 60%)")
    print(f"cached/bare p99:        {cached.p99_ms / reference.p99_ms:.2f}x (target <= 1.5x)")
    print(f"cached errors/timeouts: {cached.errors}/{cached.timeouts} (target 0/0)")


if __name__ == "__main__":
    main()
