"""Run the devnode as a process: ``python -m offline.devnode --port 9944``.

Serves the committed metadata (or the file named by ``DEVNODE_METADATA`` or ``--metadata``),
logs as every process of the service does (``shared.logging``), and stops cleanly on SIGINT or
SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from offline.devnode.faults import Faults
from offline.devnode.metadata import MetadataUnavailable
from offline.devnode.node import DEFAULT_BLOCK_MS, DevNode
from offline.devnode.state import DEFAULT_FIXTURE, FixtureError
from shared.logging import configure_logging, get_logger
from shared.settings import Settings


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m offline.devnode",
        description="An offline Substrate JSON-RPC node serving recorded subtensor metadata.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9944, help="0 picks a free port")
    parser.add_argument(
        "--block-ms",
        type=int,
        default=DEFAULT_BLOCK_MS,
        help="a block every N ms (0: only when a transaction arrives)",
    )
    parser.add_argument("--fixture", default=str(DEFAULT_FIXTURE), help="genesis state (JSON)")
    parser.add_argument(
        "--metadata",
        default=None,
        help="metadata hex file (default: $DEVNODE_METADATA, else data/localnet-v15.hex)",
    )
    parser.add_argument("--latency-ms", type=int, default=0, help="inject latency on every RPC")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> None:
    node = DevNode(
        metadata=args.metadata,
        fixture=args.fixture,
        host=args.host,
        port=args.port,
        block_ms=args.block_ms,
        faults=Faults(latency_ms=args.latency_ms) if args.latency_ms else None,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with node:
        await stop.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        asyncio.run(run(args))
    except (MetadataUnavailable, FixtureError, OSError) as error:
        get_logger("devnode").error("devnode.failed", error=str(error))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
