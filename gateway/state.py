"""Everything the gateway holds for its lifetime, created and closed by the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from faststream.redis import RedisBroker
from pymongo import AsyncMongoClient
from redis.asyncio import Redis

from gateway.admission import TradeAdmission
from gateway.auth import TokenVerifier
from gateway.dividends import DividendService
from gateway.ratelimit import RateLimiter
from shared.chain import ChainClient
from shared.killswitch import KillSwitch
from shared.settings import Settings


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    redis: Redis
    mongo: AsyncMongoClient[dict[str, object]]
    broker: RedisBroker
    chain: ChainClient
    tokens: TokenVerifier
    rate_limiter: RateLimiter
    dividends: DividendService
    admission: TradeAdmission
    kill_switch: KillSwitch
