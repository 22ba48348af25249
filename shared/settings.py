"""The one settings model, read from the environment (and ``.env`` when present).

Every variable is documented in ``.env.example``. Unsafe combinations are refused at load time,
so a misconfigured process dies at start instead of misbehaving later.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from bittensor.settings import resolve_endpoint
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.logging import LogFormat


class Scope(StrEnum):
    """What an API token may do."""

    READ = "read"
    TRADE = "trade"
    ADMIN = "admin"  # the console's actions: requeue dead letters, flip the kill switch


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


class TradingMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class AmountMode(StrEnum):
    FIXED = "fixed"
    PROPORTIONAL = "proportional"


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

    # --- streams (one per hop) and the consumer group reading each ---
    stream_trade_requested: str = "trade.requested"
    stream_tweets_fetched: str = "tweets.fetched"
    stream_sentiment_scored: str = "sentiment.scored"
    stream_stake_executed: str = "stake.executed"
    group_tweet_fetcher: str = "tweet-fetcher"
    group_sentiment_scorer: str = "sentiment-scorer"
    group_stake_executor: str = "stake-executor"
    # Entries whose hop's service (a search, a score, a stake) one consumer process runs at once.
    stream_concurrency: int = Field(default=32, ge=1, le=256)
    # Entries a consumer takes per read (XREADGROUP COUNT), handled as one batch: recorded in
    # bulk, published and acknowledged in one transaction. Without a count the first reader
    # would take the whole backlog into its own pending list.
    stream_read_count: int = Field(default=100, ge=1, le=1000)
    # An entry pending this long (its consumer crashed or hung) is claimed by another consumer.
    # Longer than any hop takes, so a slow hop is not run twice in parallel.
    stream_reclaim_idle_seconds: float = Field(default=30.0, gt=0)
    # How often each consumer looks for such entries (XAUTOCLAIM); seconds, not milliseconds.
    stream_reclaim_interval_seconds: float = Field(default=5.0, gt=0)
    # A consumer idle this long holding no pending entry is gone (scaled in, replaced, crashed
    # and reclaimed from) and is removed from its group; each consumer checks this often.
    stream_consumer_remove_idle_seconds: float = Field(default=300.0, gt=0)
    # Attempts of one hop for one entry before it is moved to the dead-letter stream.
    stream_max_attempts: int = Field(default=5, ge=1, le=100)
    # On SIGTERM a consumer stops reading and waits this long for the entries in hand.
    shutdown_timeout_seconds: float = Field(default=15.0, gt=0)
    # Approximate cap (MAXLEN ~) per stream, far above the worst expected backlog.
    stream_maxlen: int = Field(default=1_000_000, ge=1000)

    # --- tweet-fetcher: Desearch (formerly Datura) Twitter search ---
    desearch_base_url: str = "https://api.desearch.ai"
    desearch_api_key: SecretStr | None = None
    desearch_query_template: str = "Bittensor netuid {netuid}"
    # Tweets from the last N days (UTC dates), newest first.
    desearch_window_days: int = Field(default=7, ge=1, le=30)
    desearch_lang: str = "en"
    desearch_count: int = Field(default=20, ge=1, le=100)
    desearch_timeout_seconds: float = Field(default=15.0, gt=0)
    # Attempts per search; 429 and 5xx are retried with exponential backoff in between.
    desearch_max_attempts: int = Field(default=4, ge=1, le=10)
    desearch_backoff_seconds: float = Field(default=0.5, ge=0)

    # --- sentiment-scorer: Chutes LLM, or the local VADER model without a key ---
    chutes_base_url: str = "https://llm.chutes.ai/v1"
    chutes_api_key: SecretStr | None = None
    chutes_model: str = "unsloth/Llama-3.2-3B-Instruct"
    # Tried in order when the model above is unavailable (comma separated).
    chutes_fallback_models: Annotated[tuple[str, ...], NoDecode] = (
        "deepseek-ai/DeepSeek-V3-0324",
        "Qwen/Qwen3-32B-TEE",
    )
    chutes_timeout_seconds: float = Field(default=30.0, gt=0)
    chutes_max_attempts: int = Field(default=3, ge=1, le=10)
    chutes_backoff_seconds: float = Field(default=0.5, ge=0)

    # --- stake-executor: trading policy ---
    # paper: the SDK's dry run (plan) only, nothing is submitted. live: real extrinsics.
    trading_mode: TradingMode = TradingMode.PAPER
    # Stops every submission at once (trades are recorded as skipped), whatever the mode. The
    # startup default of the runtime switch (shared/killswitch.py) until it is flipped from the
    # console.
    trading_kill_switch: bool = False
    # The coldkey's mnemonic, needed for live trading. Never logged.
    wallet_mnemonic: SecretStr | None = None
    # Paper trading without a mnemonic plans for this coldkey address (a dev account if unset),
    # checked against its balance and stake as a live trade would be.
    wallet_address: str | None = None
    # fixed: STAKE_FIXED_TAO per trade. proportional: STAKE_TAO_PER_POINT x |score|.
    stake_amount_mode: AmountMode = AmountMode.FIXED
    stake_fixed_tao: Decimal = Field(default=Decimal("1"), gt=0)
    stake_tao_per_point: Decimal = Field(default=Decimal("0.01"), gt=0)
    # |score| below this is neutral: no trade.
    stake_neutral_threshold: int = Field(default=10, ge=0, le=100)
    # Caps in TAO: per trade (the amount is cut to it) and per UTC day (trades beyond are skipped).
    stake_max_tao_per_trade: Decimal = Field(default=Decimal("1"), gt=0)
    stake_daily_cap_tao: Decimal = Field(default=Decimal("10"), gt=0)
    # Slippage protection: fail instead of filling when the price moves more than this fraction.
    stake_rate_tolerance: float = Field(default=0.05, gt=0, lt=1)
    # Resubmissions after the transaction pool refused the extrinsic for a nonce race (replicas
    # or concurrent entries signing with the same coldkey). A refused extrinsic never reaches a
    # block, so this never stakes twice; failures on chain are never retried.
    stake_submit_retries: int = Field(default=5, ge=0, le=20)

    # --- metrics ---
    # Each consumer process serves Prometheus metrics on this port (0: none). The gateway
    # serves them at /metrics on its own port.
    metrics_port: int = Field(default=9100, ge=0, le=65535)

    # --- logging ---
    log_level: str = "INFO"
    # auto: console output on a terminal, JSON lines anywhere else (files, containers, pipes).
    log_format: LogFormat = "auto"
    # One http.request line per request served (the gateway, the offline stand-ins).
    access_log: bool = True

    @field_validator("bittensor_network")
    @classmethod
    def _known_network(cls, value: str) -> str:
        resolve_endpoint(value)  # raises ValueError naming the known networks
        return value

    @model_validator(mode="after")
    def _live_trading_is_explicit_and_capped(self) -> Settings:
        if self.trading_mode is TradingMode.LIVE and self.wallet_mnemonic is None:
            raise ValueError("TRADING_MODE=live needs WALLET_MNEMONIC")
        if self.stake_max_tao_per_trade > self.stake_daily_cap_tao:
            raise ValueError("STAKE_MAX_TAO_PER_TRADE cannot exceed STAKE_DAILY_CAP_TAO")
        return self

    @field_validator(
        "desearch_api_key", "chutes_api_key", "wallet_mnemonic", "wallet_address", mode="before"
    )
    @classmethod
    def _empty_key_is_none(cls, value: object) -> object:
        """``KEY=`` in an env file means "no key", not a key that is the empty string."""
        return None if value == "" else value

    @field_validator("chutes_fallback_models", mode="before")
    @classmethod
    def _split_models(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(model.strip() for model in value.split(",") if model.strip())
        return value

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _parse_tokens(cls, value: object) -> object:
        return parse_api_tokens(value) if isinstance(value, str) else value
