"""Where the tests' real Redis and MongoDB come from.

1. ``REDIS_URL`` / ``MONGODB_URL`` when set (CI and ``make test`` start local servers with
   ``scripts/provision.sh``: redis-server and a MongoDB-wire-compatible FerretDB);
2. otherwise containers from testcontainers, when a Docker daemon answers;
3. otherwise the run stops with a message that says how to provide them.

The test suite flushes the Redis database it is given and creates (then drops) its own MongoDB
databases, so never point these variables at data you want to keep.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.processes import free_port as free_port

HOW_TO = (
    "Tests need a real Redis and a real MongoDB-compatible server. Either run "
    "`bash scripts/provision.sh install && bash scripts/provision.sh start` and export "
    "REDIS_URL=redis://127.0.0.1:6379/0 MONGODB_URL=mongodb://127.0.0.1:27017 "
    "(`make test` does this), or start a Docker daemon so that testcontainers can."
)


def docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@contextlib.contextmanager
def redis_url() -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    if not docker_answers():
        pytest.exit(f"REDIS_URL is not set and no Docker daemon answers. {HOW_TO}", returncode=2)
    from testcontainers.community.redis import RedisContainer

    with RedisContainer("redis:7.4-alpine") as container:
        yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"


@contextlib.contextmanager
def mongodb_url() -> Iterator[str]:
    if url := os.environ.get("MONGODB_URL"):
        yield url
        return
    if not docker_answers():
        pytest.exit(f"MONGODB_URL is not set and no Docker daemon answers. {HOW_TO}", returncode=2)
    from testcontainers.community.mongodb import MongoDbContainer

    with MongoDbContainer("mongo:8.0") as container:
        yield container.get_connection_url()


class DisposableRedis:
    """A private redis-server process that a test may stop, kill, pause and start again (on the
    same port, empty: it keeps no data), to see the service survive it."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        arguments = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir"]
        self.process = subprocess.Popen(  # noqa: S603 - a fixed binary with fixed arguments
            [self.binary, *arguments, str(self.directory)], stdout=subprocess.DEVNULL
        )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # a paused server cannot act on SIGTERM
            self.process.terminate()
            self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL, as a crash: connections are cut, nothing is saved."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections, and nothing answers on them."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def disposable_redis(directory: Path) -> Iterator[DisposableRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("needs the redis-server binary (scripts/provision.sh install) to stop a Redis")
    server = DisposableRedis(binary, directory)
    try:
        server.start()
        yield server
    finally:
        server.stop()


class DisposableMongo:
    """A private FerretDB (the MongoDB-compatible test server) that a test may stop and restart."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory = binary, directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - our own binary with fixed arguments
            [
                self.binary,
                "-listen-addr",
                f"127.0.0.1:{self.port}",
                "-sqlite-url",
                f"file:{self.directory}/",
                "-log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextlib.contextmanager
def disposable_mongo(directory: Path) -> Iterator[DisposableMongo]:
    binary = Path(__file__).resolve().parents[1] / ".local" / "bin" / "ferretdb"
    if not binary.exists():
        pytest.skip("needs .local/bin/ferretdb (scripts/provision.sh install) to stop a MongoDB")
    server = DisposableMongo(str(binary), directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
