"""Run the devnode as a process: ``python -m tests.devnode --port 9944``.

Reads the metadata file named by ``DEVNODE_METADATA`` (or ``--metadata``), logs to stderr, and
stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from tests.devnode.faults import Faults
from tests.devnode.metadata import MetadataUnavailable
from tests.devnode.node import DEFAULT_BLOCK_MS, DevNode
from tests.devnode.state import DEFAULT_FIXTURE, FixtureError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.devnode",
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
    parser.add_argument("--metadata", default=None, help="metadata hex file ($DEVNODE_METADATA)")
    parser.add_argument("--latency-ms", type=int, default=0, help="inject latency on every RPC")
    parser.add_argument("--log-level", default="INFO")
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
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(run(args))
    except (MetadataUnavailable, FixtureError, OSError) as error:
        logging.getLogger("devnode").error("%s", error)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
