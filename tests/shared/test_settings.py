"""The settings model: token parsing and refusals of unsafe values."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shared.settings import Scope, Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)


def test_tokens_parse_into_names_secrets_and_scopes() -> None:
    """API_TOKENS is name:secret:scope+scope, comma separated."""
    parsed = settings(
        api_tokens="ci:aaaaaaaaaaaaaaaa:read, bot:bbbbbbbbbbbbbbbb:read+trade,"
        "ops:cccccccccccccccc:read+admin"
    )
    assert [(t.name, t.secret.get_secret_value(), t.scopes) for t in parsed.api_tokens] == [
        ("ci", "aaaaaaaaaaaaaaaa", frozenset({Scope.READ})),
        ("bot", "bbbbbbbbbbbbbbbb", frozenset({Scope.READ, Scope.TRADE})),
        ("ops", "cccccccccccccccc", frozenset({Scope.READ, Scope.ADMIN})),
    ]


def test_token_secrets_never_show_in_the_settings_repr() -> None:
    """Printing settings (in a log, a traceback) does not reveal a token."""
    assert "aaaaaaaaaaaaaaaa" not in repr(settings(api_tokens="ci:aaaaaaaaaaaaaaaa:read"))


@pytest.mark.parametrize(
    "raw",
    [
        "ci:short:read",
        "ci:aaaaaaaaaaaaaaaa:root",
        "ci:aaaaaaaaaaaaaaaa",
        ":aaaaaaaaaaaaaaaa:read",
        "ci:aaaaaaaaaaaaaaaa:read,ci:bbbbbbbbbbbbbbbb:read",
    ],
    ids=["too-short", "unknown-scope", "no-scopes", "no-name", "duplicate-name"],
)
def test_malformed_or_weak_tokens_are_refused_at_start(raw: str) -> None:
    """A bad API_TOKENS value stops the process at start, not at the first request."""
    with pytest.raises(ValidationError):
        settings(api_tokens=raw)


def test_cache_ttl_defaults_to_two_minutes() -> None:
    assert settings().cache_ttl_seconds == 120


@pytest.mark.parametrize(
    "network", ["finney", "test", "local", "ws://127.0.0.1:9944", "wss://x.io:443"]
)
def test_networks_are_names_or_websocket_urls(network: str) -> None:
    assert settings(bittensor_network=network).bittensor_network == network


def test_an_unknown_network_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        settings(bittensor_network="mainnet-please")
