"""`.env.example` documents every setting, with values the settings model accepts."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

from shared.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parents[2] / ".env.example"
# Read by compose.yaml and the images rather than by the settings model.
DEPLOYMENT_VARIABLES = {
    "GATEWAY_WORKERS",
    "GATEWAY_PORT",
    "TWEET_FETCHER_REPLICAS",
    "SENTIMENT_SCORER_REPLICAS",
    "STAKE_EXECUTOR_REPLICAS",
}


def test_every_setting_is_documented_in_env_example() -> None:
    """Each settings field has its variable in .env.example, and nothing else is there."""
    documented = set(dotenv_values(ENV_EXAMPLE))
    expected = {name.upper() for name in Settings.model_fields} | DEPLOYMENT_VARIABLES
    assert documented == expected


def test_env_example_loads_as_valid_settings() -> None:
    """Copying .env.example to .env gives a configuration the services accept."""
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.cache_ttl_seconds == 120
    assert [token.name for token in settings.api_tokens] == ["local-reader", "local-trader"]


def test_empty_api_keys_mean_no_key() -> None:
    """`CHUTES_API_KEY=` selects the local scorer rather than an empty key."""
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.chutes_api_key is None
    assert settings.desearch_api_key is None
