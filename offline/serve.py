"""Run an offline HTTP stand-in as a process: one place for its command line and its server.

Each stand-in module ends with ``serve_app(...)``, so ``python -m offline.<name> --port N`` starts
it under uvicorn with the service's own logging (``shared.logging``: JSON lines, or console on a
terminal), its access log included, and stops it on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from shared.logging import configure_logging
from shared.settings import Settings


def serve_app(
    factory: Callable[[argparse.Namespace], ASGIApp],
    *,
    prog: str,
    default_port: int,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> None:
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=default_port)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        factory(args),
        host=args.host,
        port=args.port,
        log_config=None,  # uvicorn's loggers go through the service's logging, configured above
        access_log=settings.access_log,
        timeout_graceful_shutdown=5,
    )
