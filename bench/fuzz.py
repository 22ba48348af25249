"""``make fuzz``: schemathesis against a running gateway, every check on, and the counts printed.

What is fuzzed is what production runs: the gateway as ``python -m gateway``, on the real Redis
and MongoDB-compatible server, its chain the offline devnode (``python -m offline.devnode``), a
websocket node the unmodified SDK talks to. Schemathesis generates requests from the gateway's
own ``/openapi.json`` (examples, coverage, fuzzing and stateful phases) and checks every answer
against it with all of its checks (``bench/fuzz.toml``): no server error, status codes, content
types, headers and bodies as documented, data the schema forbids rejected, data it allows
accepted, auth enforced. ``bench/fuzz_hooks.py`` teaches it the ``ss58`` format. The test suite
runs a small seeded sample of the same run (``tests/bench/test_fuzz.py``).

The fuzzer's token has the read and trade scopes, so it reaches every handler. The trades it
asks for are harmless: they are recorded and published to ``trade.requested`` and nothing more
(no consumer runs here, and ``TRADING_MODE`` is paper). The Redis database and MongoDB
database given are wiped at start: never point them at data you want to keep.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
from pymongo import MongoClient
from redis import Redis

from bench.processes import Processes, exit_on_sigterm, free_port, processes

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "bench" / "fuzz.toml"
TOKEN_VARIABLE = "TAODIV_FUZZ_TOKEN"  # noqa: S105 - the name of the variable bench/fuzz.toml reads
START_SECONDS = 180  # the SDK loads the runtime metadata before the gateway is ready


@dataclass
class FuzzReport:
    """What one schemathesis run did: cases generated and every check's outcomes."""

    cases: int
    unique_failures: int
    errors: int
    # check name -> {"success": n, "failure": n, "skip": n}
    checks: dict[str, Counter[str]] = field(default_factory=dict)
    seed: int | None = None

    @property
    def failures(self) -> dict[str, int]:
        """Failed check runs per check, only the checks that failed."""
        return {name: n["failure"] for name, n in sorted(self.checks.items()) if n["failure"]}

    @property
    def clean(self) -> bool:
        return not self.failures and not self.unique_failures and not self.errors

    def render(self) -> str:
        lines = [
            f"schemathesis: {self.cases} cases generated (seed {self.seed}), "
            f"{self.unique_failures} unique failures, {self.errors} errors",
            f"{'check':32} {'passed':>8} {'failed':>8} {'skipped':>8}",
        ]
        for name, counts in sorted(self.checks.items()):
            lines.append(
                f"{name:32} {counts['success']:8d} {counts['failure']:8d} {counts['skip']:8d}"
            )
        return "\n".join(lines)


def run(
    *,
    redis_url: str,
    mongodb_url: str,
    database: str,
    max_examples: int,
    seed: int,
    log_dir: Path,
    gateway_workers: int = 1,
    output: IO[str] | None = None,
) -> FuzzReport:
    """Start the devnode and the gateway, fuzz the gateway, stop both; the run's counts.

    ``max_examples`` is per operation and phase; ``output`` receives schemathesis's own report
    (its log file when None).
    """
    _wipe(redis_url, mongodb_url, database)
    token = secrets.token_urlsafe(24)
    with processes(log_dir) as procs:
        devnode_port, gateway_port = free_port(), free_port()
        procs.start(
            "devnode",
            [sys.executable, "-m", "offline.devnode", "--port", str(devnode_port)],
            {**os.environ, "LOG_LEVEL": "WARNING"},
        )
        env = _gateway_env(redis_url, mongodb_url, database, token, devnode_port, log_dir)
        command = [sys.executable, "-m", "gateway", "--host", "127.0.0.1",
                   "--port", str(gateway_port), "--workers", str(gateway_workers)]  # fmt: skip
        procs.start("gateway", command, env)
        base_url = f"http://127.0.0.1:{gateway_port}"
        _wait_ready(procs, base_url)
        reports = log_dir / "schemathesis"
        with _output(output, log_dir) as out:
            _schemathesis(base_url, reports, token, max_examples, seed, out)
    return read_report(reports)


def _wipe(redis_url: str, mongodb_url: str, database: str) -> None:
    with Redis.from_url(redis_url) as redis:
        redis.flushdb()
    client: MongoClient[dict[str, object]] = MongoClient(mongodb_url)
    try:
        client.drop_database(database)
    finally:
        client.close()


def _gateway_env(
    redis_url: str, mongodb_url: str, database: str, token: str, devnode_port: int, log_dir: Path
) -> dict[str, str]:
    return {
        **os.environ,
        "REDIS_URL": redis_url,
        "MONGODB_URL": mongodb_url,
        "MONGODB_DATABASE": database,
        "BITTENSOR_NETWORK": f"ws://127.0.0.1:{devnode_port}",
        "API_TOKENS": f"fuzz:{token}:read+trade",
        # The fuzzer sends thousands of requests a minute with one token: a 429 would hide the
        # handler behind it. (429 stays documented; the rate limit tests cover it.)
        "RATE_LIMIT_REQUESTS": "1000000000",
        "TRADING_MODE": "paper",
        "LOG_LEVEL": "WARNING",
        # The SDK's caches, out of the home directory.
        "BITTENSOR_RUNTIME_CACHE_DIR": str(log_dir / "runtime-cache"),
        "BTCLI_TOKEN_SYMBOLS_CACHE": str(log_dir / "token_symbols.json"),
    }


def _wait_ready(procs: Processes, base_url: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        procs.require_running()
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/ready", timeout=5).status_code == 200:
                return
        time.sleep(0.5)
    tail = procs.tail("gateway")
    raise RuntimeError(f"the gateway was not ready within {START_SECONDS} s:\n{tail}")


@contextlib.contextmanager
def _output(output: IO[str] | None, log_dir: Path) -> Iterator[IO[str]]:
    if output is not None:
        yield output
        return
    with (log_dir / "schemathesis.log").open("w") as log:
        yield log


def _schemathesis(
    base_url: str, reports: Path, token: str, max_examples: int, seed: int, output: IO[str]
) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG),
        "run", f"{base_url}/openapi.json",
        "--max-examples", str(max_examples), "--seed", str(seed),
        "--report", "json,ndjson",
        "--report-json-path", str(reports / "report.json"),
        "--report-ndjson-path", str(reports / "events.ndjson"),
    ]  # fmt: skip
    env = {**os.environ, TOKEN_VARIABLE: token}
    # Its exit code says only "some check failed"; the counts are read from its reports.
    subprocess.run(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, check=False)  # noqa: S603


def read_report(reports: Path) -> FuzzReport:
    """The counts of a run from schemathesis's JSON report and its event stream."""
    summary = json.loads((reports / "report.json").read_text())
    checks: dict[str, Counter[str]] = defaultdict(Counter)
    with (reports / "events.ndjson").open() as events:
        for line in events:
            event = json.loads(line)
            finished = event.get("ScenarioFinished")
            if finished is None:
                continue
            for results in finished["recorder"].get("checks", {}).values():
                for result in results:
                    checks[result["name"]][result["status"]] += 1
    return FuzzReport(
        cases=summary["test_cases"]["generated"],
        unique_failures=summary["test_cases"]["unique_failures"],
        errors=len(summary["errors"]),
        checks=dict(checks),
        seed=summary.get("seed"),
    )


@contextlib.contextmanager
def _log_dir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        yield Path(scratch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--max-examples", type=int, default=600, help="cases per operation and phase"
    )
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    parser.add_argument("--min-cases", type=int, default=5000, help="fail a run that made fewer")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "2")))
    parser.add_argument(
        "--keep", type=Path, default=None, help="keep the logs and schemathesis reports here"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, exit_on_sigterm)
    seed = args.seed if args.seed is not None else random.randrange(2**32)  # noqa: S311
    with _log_dir(args.keep) as log_dir:
        report = run(
            redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11"),
            mongodb_url=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017"),
            database=os.environ.get("MONGODB_DATABASE", "fuzz"),
            max_examples=args.max_examples,
            seed=seed,
            log_dir=log_dir,
            gateway_workers=args.workers,
            output=sys.stdout,
        )
    print(f"\n{report.render()}")
    if not report.clean:
        sys.exit(f"fuzz: failures {report.failures or 'none'}, errors {report.errors}")
    if report.cases < args.min_cases:
        sys.exit(f"fuzz: only {report.cases} cases, fewer than --min-cases {args.min_cases}")


if __name__ == "__main__":
    main()
