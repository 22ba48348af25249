"""The gateway's FastAPI app: ``create_app()`` and the lifespan that owns every client.

Run with ``uvicorn gateway.app:create_app --factory``. Nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from faststream.redis import RedisBroker
from redis.asyncio import BlockingConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gateway.admission import TradeAdmission
from gateway.api import dividends, health, metrics, trades
from gateway.auth import TokenVerifier
from gateway.cache import DividendCache
from gateway.console import pages as console_pages
from gateway.console import routes as console
from gateway.dividends import DividendService
from gateway.errors import install_error_handlers
from gateway.middleware import RequestContextMiddleware
from gateway.openapi import install_openapi
from gateway.ratelimit import RateLimiter
from gateway.state import Services
from shared.chain import ChainClient, DividendReader
from shared.chain.client import ClientFactory
from shared.documents import init_documents, mongo_client
from shared.killswitch import KillSwitch
from shared.logging import configure_logging, get_logger
from shared.settings import Settings

log = get_logger(__name__)


def redis_client(settings: Settings) -> Redis:
    """A Redis client that fails fast: a request must not wait on a dead Redis."""
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_timeout_seconds,  # waiting for a free connection
        socket_timeout=settings.redis_timeout_seconds,
        socket_connect_timeout=settings.redis_timeout_seconds,
        retry=Retry(NoBackoff(), 0),
    )
    return Redis(connection_pool=pool)


def create_app(
    settings: Settings | None = None, *, chain_factory: ClientFactory | None = None
) -> FastAPI:
    """Build the app. ``chain_factory`` replaces the SDK client (tests pass a fake substrate)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Services]]:
        async with AsyncExitStack() as stack:
            redis = redis_client(settings)
            stack.push_async_callback(redis.aclose)
            mongo = mongo_client(settings.mongodb_url, settings.mongodb_timeout_seconds)
            stack.push_async_callback(mongo.close)
            await init_documents(mongo, settings.mongodb_database)
            # Publishing a trade is bounded like every other Redis call of a request; without
            # these a Redis that stopped answering would hold the request for good.
            broker = RedisBroker(
                settings.redis_url,
                socket_timeout=settings.redis_timeout_seconds,
                socket_connect_timeout=settings.redis_timeout_seconds,
            )
            await broker.connect()
            stack.push_async_callback(broker.stop)
            chain = ChainClient.from_settings(settings, chain_factory)
            stack.push_async_callback(chain.close)
            await chain.start()
            cache = DividendCache(
                redis,
                ttl_seconds=settings.cache_ttl_seconds,
                lock_timeout_seconds=settings.cache_lock_timeout_seconds,
            )
            services = Services(
                settings=settings,
                redis=redis,
                mongo=mongo,
                broker=broker,
                chain=chain,
                tokens=TokenVerifier(settings.api_tokens),
                rate_limiter=RateLimiter(
                    redis,
                    limit=settings.rate_limit_requests,
                    window_seconds=settings.rate_limit_window_seconds,
                ),
                dividends=DividendService(
                    DividendReader(chain), cache, page_size=settings.subnets_page_size
                ),
                admission=TradeAdmission(redis, broker, settings),
                kill_switch=KillSwitch(redis, default=settings.trading_kill_switch),
            )
            log.info("gateway.started", network=settings.bittensor_network)
            yield {"services": services}
            log.info("gateway.stopping")

    app = FastAPI(
        # The hot route sits on the app's own router: an included router is dispatched through
        # a nested layer (FastAPI 0.165), which costs the cached path more than its own work.
        routes=list(dividends.router.routes),
        title="TAO dividends gateway",
        version="1.0.0",
        description="Root dividends per subnet and hotkey from the Bittensor chain, cached, and "
        "the entry point of sentiment-driven trades. Authenticate with `Authorization: Bearer "
        "<token>` or `X-API-Key: <token>`. Every error has the body "
        '`{"error": {"code", "message", "field"}}`.',
        lifespan=lifespan,
    )
    app.add_middleware(RequestContextMiddleware)
    install_error_handlers(app)
    install_openapi(app)
    # The hot route first (above): each request is matched against the routes in this order.
    app.include_router(trades.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(console.router)
    app.mount("/console/static", StaticFiles(directory=console_pages.STATIC), name="console-static")
    return app
