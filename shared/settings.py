"""The one settings model, read from the environment (and ``.env`` when present).

Every variable is documented in ``.env.example``. Unsafe combinations are refused at load time,
so a misconfigured process dies at start instead of misbehaving later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from bittensor.settings import resolve_endpoint
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Scope(StrEnum):
    """What an API token may do."""

    READ = "read"
    TRADE = "trade"


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One configured token. ``name`` is what logs and rate limits see; the secret never is."""

    name: str
    secret: SecretStr
    scopes: frozenset[Scope]


# Tokens shorter than this are refused: they are guessable and usually placeholders.
MIN_TOKEN_LENGTH = 16


def parse_api_tokens(raw: str) -> tuple[ApiToken, ...]:
    """Parse ``name:secret:scope+scope,...`` into tokens.

    Several entries may be valid at once, which is how a token is rotated: add the new one,
    move clients over, remove the old one.
    """
    tokens: list[ApiToken] = []
    for entry in filter(None, (part.strip() for part in raw.split(","))):
        fields = entry.split(":")
        if len(fields) != 3:
            raise ValueError("each API_TOKENS entry must be name:secret:scopes")
        name, secret, scopes = (field.strip() for field in fields)
        if not name:
            raise ValueError("an API_TOKENS entry has an empty name")
        if len(secret) < MIN_TOKEN_LENGTH:
            raise ValueError(f"token {name!r} is shorter than {MIN_TOKEN_LENGTH} characters")
        try:
            parsed = frozenset(Scope(scope) for scope in scopes.split("+"))
        except ValueError:
            raise ValueError(f"token {name!r} has an unknown scope in {scopes!r}") from None
        tokens.append(ApiToken(name=name, secret=SecretStr(secret), scopes=parsed))
    names = [token.name for token in tokens]
    if len(set(names)) != len(names):
        raise ValueError("API_TOKENS names must be unique")
    return tuple(tokens)


class Settings(BaseSettings):
    """Configuration of every process. Field ``foo_bar`` is the variable ``FOO_BAR``."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # --- infrastructure ---
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Every Redis call is bounded by this; a slow or dead Redis must not stall a request.
    redis_timeout_seconds: float = Field(default=0.5, gt=0)
    # Connections per process; requests beyond it wait (up to the timeout) for a free one.
    redis_max_connections: int = Field(default=64, ge=1)
    mongodb_url: str = "mongodb://127.0.0.1:27017"
    mongodb_database: str = "tao_dividends"
    mongodb_timeout_seconds: float = Field(default=5.0, gt=0)

    # --- chain ---
    # A network name (finney, test, local) or a ws:// / wss:// endpoint.
    bittensor_network: str = "test"
    chain_timeout_seconds: float = Field(default=10.0, gt=0)
    # What a 503 tells clients to wait before retrying when the chain is unavailable.
    chain_retry_after_seconds: int = Field(default=5, ge=1)

    # --- gateway ---
    api_tokens: Annotated[tuple[ApiToken, ...], NoDecode] = ()
    cache_ttl_seconds: int = Field(default=120, ge=1)
    # Longest a request waits for another process's in-flight chain read of the same key.
    cache_lock_timeout_seconds: float = Field(default=15.0, gt=0)
    rate_limit_requests: int = Field(default=600, ge=1)
    rate_limit_window_seconds: int = Field(default=60, ge=1)
    trade_cooldown_seconds: int = Field(default=300, ge=1)
    # The all-subnets query answers this many subnets per page at most.
    subnets_page_size: int = Field(default=16, ge=1, le=256)

    # --- streams ---
    stream_trade_requested: str = "trade.requested"
    # Approximate cap (MAXLEN ~) per stream, far above the worst expected backlog.
    stream_maxlen: int = Field(default=1_000_000, ge=1000)

    # --- logging ---
    log_level: str = "INFO"
    # json for machines (the default), console for a developer's terminal.
    log_format: str = Field(default="json", pattern="^(json|console)$")

    @field_validator("bittensor_network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        resolve_endpoint(value)  # raises ValueError naming the known networks
        return value

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _parse_tokens(cls, value: object) -> object:
        return parse_api_tokens(value) if isinstance(value, str) else value
