"""The processes a bench starts (fakes, consumers, a Redis), and how it knows they are ready.

Shared by ``make bench-pipeline`` and ``make chaos``: both run the consumers as separate
processes, as production does, and must never leave one behind.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import IO

import httpx
from redis import Redis

# SIGTERM, then SIGKILL after this long: a consumer's graceful stop takes up to
# SHUTDOWN_TIMEOUT_SECONDS (15 by default).
STOP_SECONDS = 30


class Processes:
    """The processes one part of a run started, by name; ``stop`` ends every one of them.

    Each writes to ``<log_dir>/<name>.log`` (appended: a restarted consumer continues its log),
    not to the terminal: FastStream logs every message it handles, which would bury the figures.
    """

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._running: dict[str, subprocess.Popen[bytes]] = {}
        self.exits: dict[str, int] = {}  # name -> code of a process that ended by itself

    def start(self, name: str, command: Sequence[str], env: dict[str, str]) -> int:
        log: IO[bytes]
        with (self.log_dir / f"{name}.log").open("ab") as log:
            # Own session: a Ctrl-C reaches only the bench, which then stops the children.
            process = subprocess.Popen(  # noqa: S603
                command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._running[name] = process
        return process.pid

    def pid(self, name: str) -> int:
        return self._running[name].pid

    def names(self) -> list[str]:
        """The processes running (that were not killed or seen to end)."""
        return list(self._running)

    def kill(self, name: str) -> int:
        """SIGKILL, as ``kill -9``: no handler, no graceful shutdown, nothing flushed."""
        process = self._running.pop(name)
        process.kill()
        process.wait()
        return process.pid

    def check(self) -> list[str]:
        """Names of processes that ended by themselves since the last check."""
        ended = [name for name, p in self._running.items() if p.poll() is not None]
        for name in ended:
            self.exits[name] = self._running.pop(name).returncode
        return ended

    def require_running(self) -> None:
        """Fail fast when a process died: the bench would otherwise wait for its timeout."""
        for name in self.check():
            raise RuntimeError(f"{name} exited with code {self.exits[name]}:\n{self.tail(name)}")

    def tail(self, name: str, lines: int = 20) -> str:
        log = self.log_dir / f"{name}.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to all at once, then SIGKILL to any still running after ``STOP_SECONDS``."""
        for process in self._running.values():
            if process.poll() is None:
                process.terminate()
        for process in self._running.values():
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._running.clear()


@contextlib.contextmanager
def processes(log_dir: Path) -> Iterator[Processes]:
    log_dir.mkdir(parents=True, exist_ok=True)
    started = Processes(log_dir)
    try:
        yield started
    finally:
        started.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    """A SIGTERM unwinds like Ctrl-C, so every ``finally`` that stops children runs."""
    raise SystemExit(128 + signum)


def start_fakes(procs: Processes, port: int) -> None:
    """The zero-latency Desearch (on ``port``) and Chutes (on ``port + 1``) stand-ins, ready."""
    servers = {"desearch": (port, "/twitter?query=q"), "chutes": (port + 1, "/v1/models")}
    for name, (server_port, _probe) in servers.items():
        command = [sys.executable, "-m", f"offline.{name}", "--port", str(server_port)]
        procs.start(name, command, {**os.environ, "LOG_LEVEL": "WARNING"})
    deadline = time.monotonic() + 60
    for name, (server_port, probe) in servers.items():
        url = f"http://127.0.0.1:{server_port}{probe}"
        while not _answers(url, headers={"Authorization": "Bearer bench"}):
            procs.require_running()
            if time.monotonic() > deadline:
                raise RuntimeError(f"the offline {name} did not start on port {server_port}")
            time.sleep(0.2)


def _answers(url: str, headers: dict[str, str]) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, headers=headers, timeout=1).status_code == 200
    return False


def polling_consumers(redis: Redis) -> int:
    """Connections blocked in XREADGROUP on this database: one per started consumer process.

    XINFO CONSUMERS cannot tell: before Redis 7.2 a blocking XREADGROUP that finds nothing does
    not create its consumer.
    """
    db = str(redis.connection_pool.connection_kwargs.get("db", 0))
    return sum(1 for c in redis.client_list() if c.get("db") == db and c.get("cmd") == "xreadgroup")
