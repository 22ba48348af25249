"""What a bench run cost, measured rather than estimated: MongoDB commands (the consumers' own
PyMongo command monitoring, scraped from their metrics endpoints), Redis commands (the server's
INFO commandstats) and the memory of each process.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

MONGODB_COMMANDS = "taodiv_mongodb_commands"


def mongodb_commands(ports: Iterable[int]) -> Counter[str]:
    """MongoDB commands sent so far, by command, summed over the consumers serving metrics on
    ``ports`` (``taodiv_mongodb_commands_total``)."""
    total: Counter[str] = Counter()
    for port in ports:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            if family.name == MONGODB_COMMANDS:
                for sample in family.samples:
                    if sample.name.endswith("_total"):
                        total[sample.labels["command"]] += int(sample.value)
    return total


def redis_commands(redis: Redis) -> int:
    """Commands the Redis server has run since it started (all clients, all databases)."""
    stats: dict[str, Any] = redis.info("commandstats")
    return sum(int(value["calls"]) for value in stats.values())


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (0 when it is gone)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (a Celery worker's prefork pool)."""
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []
