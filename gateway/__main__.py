"""Run the gateway as production does: ``python -m gateway [--workers N] [--port P]``.

One place for the server options that the image, ``make run-gateway`` and ``make bench`` share.
The event loop is asyncio's own: under 1000 connections uvloop starved some of them for more
than 5 s (wrk counted timeouts) at no gain in requests/s; asyncio's loop served every one.

With several workers, each writes its Prometheus metrics into one fresh directory (see
``shared.metrics``), so a scrape answered by any worker reports them all. uvicorn's own logging
configuration is off (``log_config=None``): its lines, the access log included, go through the
service's (``shared.logging``), set up here for the supervisor and by ``create_app`` in each
worker.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile

import uvicorn

from shared.logging import configure_logging
from shared.settings import Settings

# Read by prometheus_client in each worker when it is imported; this process does not import it.
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    parser.add_argument("--app", default="gateway.app:create_app", help="app factory to serve")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens on all interfaces in its container
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("GATEWAY_WORKERS", "2")))
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    metrics_dir = None
    if args.workers > 1 and MULTIPROC_DIR not in os.environ:
        metrics_dir = os.environ[MULTIPROC_DIR] = tempfile.mkdtemp(prefix="gateway-metrics-")
    try:
        _serve(args, access_log=settings.access_log)
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve(args: argparse.Namespace, *, access_log: bool) -> None:
    uvicorn.run(
        args.app,
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="asyncio",
        http="httptools",
        log_config=None,
        access_log=access_log,
        proxy_headers=True,
        backlog=4096,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
