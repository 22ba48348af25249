"""``make run-local`` on a fresh clone: the service offline, the README's curl lines as printed.

The README promises that with nothing configured (no ``.env``, no keys, no network) one command
starts Redis, the MongoDB-compatible server, the devnode, the Desearch stand-in, the gateway and
the three consumers, that its curl lines then answer, that a requested trade reaches a recorded
paper outcome, and that Ctrl-C stops everything. This test does exactly that, in a subprocess,
with the curl lines read from the README itself. Its Redis and FerretDB are started by run-local
itself, on ports of their own (``REDIS_PORT`` / ``MONGO_PORT``, as ``scripts/provision.sh``
reads them), so the suite's servers are left alone and the stop of those two is checked too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.documents import TERMINAL_STATES

ROOT = Path(__file__).resolve().parents[2]
# The Redis and FerretDB this run starts, away from the suite's own.
REDIS_PORT, MONGO_PORT = 16390, 27190
# What run-local listens on: gateway, devnode, Desearch stand-in, the consumers' metrics, and
# the two servers.
PORTS = (8000, 9944, 8090, 9101, 9102, 9103, REDIS_PORT, MONGO_PORT)
# Settings a developer's shell may hold that would make this run something other than offline.
CONFIGURED = {
    "BITTENSOR_NETWORK", "DESEARCH_API_KEY", "DESEARCH_BASE_URL", "CHUTES_API_KEY", "API_TOKENS",
    "TRADING_MODE", "WALLET_MNEMONIC", "LOG_FORMAT", "MONGODB_DATABASE", "REDIS_URL",
    "MONGODB_URL",
}  # fmt: skip
STARTUP_SECONDS = 240
TRADE_SECONDS = 120
PLACEHOLDER = "<trade_id>"


def readme_try_it() -> tuple[list[str], list[str]]:
    """The "Try it" block of the README: its variable assignments and its curl commands."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Try it", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block is not None, "the README's Try it section has no bash block"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    commands = [re.sub(r"\s+#.*$", "", line).strip() for line in lines]
    assignments = [line for line in commands if re.match(r"^[A-Z_]+=", line)]
    curls = [line for line in commands if line.startswith("curl ")]
    return assignments, curls


def run_curl(assignments: list[str], curl: str) -> Any:
    """One README line, run by bash as a reader would paste it; its answer as JSON."""
    script = "\n".join([*assignments, curl])
    done = subprocess.run(  # noqa: S603 - the README's own lines
        ["bash", "-c", script],  # noqa: S607 - bash from PATH, as a reader runs it
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return json.loads(done.stdout)


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` (as servers do, despite TIME-WAIT sockets)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def session_processes(sid: int) -> list[str]:
    """The processes still in session ``sid`` (everything run-local started is in it)."""
    left = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid:  # after the command: state, ppid, pgrp, session
            left.append(stat.parent.name)
    return left


def clean(directories: list[Path], files: list[Path]) -> None:
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)
    for file in files:
        file.unlink(missing_ok=True)


@pytest.fixture
def run_local() -> Iterator[subprocess.Popen[bytes]]:
    """``make run-local`` in its own session, as a terminal would run it; Ctrl-C'd if left."""
    if (ROOT / ".env").exists():
        pytest.skip("a .env is present, which make run-local reads: this test is of a fresh clone")
    busy = [port for port in PORTS if not port_free(port)]
    assert not busy, f"ports run-local needs are taken: {busy}"
    local = ROOT / ".local"
    data = [local / "redis-data" / str(REDIS_PORT), local / "ferretdb-data" / str(MONGO_PORT)]
    logs = [local / f"redis-{REDIS_PORT}.log", local / f"ferretdb-{MONGO_PORT}.log"]
    clean(data, logs)  # what an earlier run of this test left
    env = {key: value for key, value in os.environ.items() if key not in CONFIGURED}
    env.update(REDIS_PORT=str(REDIS_PORT), MONGO_PORT=str(MONGO_PORT))
    process = subprocess.Popen(
        ["make", "run-local"],  # noqa: S607 - make from PATH, as a reader runs it
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            subprocess.run(
                ["bash", "scripts/provision.sh", "stop"],  # noqa: S607 - bash from PATH
                cwd=ROOT,
                env={**os.environ, "REDIS_PORT": str(REDIS_PORT), "MONGO_PORT": str(MONGO_PORT)},
                check=False,
            )
        clean(data, logs)


def wait_until_ready(process: subprocess.Popen[bytes], assignments: list[str], ready: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        assert process.poll() is None, f"make run-local exited with {process.returncode}"
        try:
            if run_curl(assignments, ready).get("ready") is True:
                return
        except (subprocess.CalledProcessError, json.JSONDecodeError):
            pass
        assert time.monotonic() < deadline, "run-local was not ready in time"
        time.sleep(1)


def test_run_local_serves_the_readme_lines_and_stops_on_ctrl_c(
    run_local: subprocess.Popen[bytes],
) -> None:
    """Start, the README's curls, a trade to its recorded end, Ctrl-C: nothing left, ports free."""
    assignments, curls = readme_try_it()
    one, subnet, trade, timeline_line, ready = curls
    wait_until_ready(run_local, assignments, ready)

    dividend = run_curl(assignments, one)
    assert dividend["unit"] == "alpha_rao"
    assert dividend["dividend"] > 0  # from the devnode's recorded state, not an invented 0
    assert run_curl(assignments, subnet)["entries"]
    admitted = run_curl(assignments, trade)
    assert admitted["trade_enqueued"] is True

    assert PLACEHOLDER in timeline_line
    line = timeline_line.replace(PLACEHOLDER, admitted["trade_id"])
    deadline = time.monotonic() + TRADE_SECONDS
    while (timeline := run_curl(assignments, line))["state"] not in TERMINAL_STATES:
        assert time.monotonic() < deadline, f"the trade did not end: {timeline}"
        time.sleep(0.5)
    assert timeline["state"] == "executed"
    assert timeline["outcome"]["mode"] == "paper"
    assert [hop["hop"] for hop in timeline["hops"]] == [
        "tweet-fetcher",
        "sentiment-scorer",
        "stake-executor",
    ]

    os.killpg(run_local.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's process group
    run_local.wait(timeout=60)
    deadline = time.monotonic() + 10
    while session_processes(run_local.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_processes(run_local.pid) == []
    assert [port for port in PORTS if not port_free(port)] == []
