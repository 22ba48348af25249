"""`.env.example` documents every setting, with values the settings model accepts."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from dotenv import dotenv_values

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
COMPOSE_FILE = ROOT / "compose.yaml"
# Compose interpolation: $VAR, ${VAR}, ${VAR:-default}, ${VAR?error}, ...; `$$` is a literal `$`.
INTERPOLATED = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
# Read by compose.yaml and the images rather than by the settings model.
DEPLOYMENT_VARIABLES = {
    "GATEWAY_WORKERS",
    "GATEWAY_PORT",
    "TWEET_FETCHER_REPLICAS",
    "SENTIMENT_SCORER_REPLICAS",
    "STAKE_EXECUTOR_REPLICAS",
    "PROMETHEUS_PORT",
    "GRAFANA_PORT",
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
    names = [token.name for token in settings.api_tokens]
    assert names == ["local-reader", "local-trader", "local-admin"]


def test_empty_api_keys_mean_no_key() -> None:
    """`CHUTES_API_KEY=` selects the local scorer rather than an empty key."""
    settings = Settings(_env_file=ENV_EXAMPLE)
    assert settings.chutes_api_key is None
    assert settings.desearch_api_key is None


def interpolated_variables(node: object) -> set[str]:
    """Every variable interpolated in a parsed YAML node, keys and values alike."""
    if isinstance(node, str):
        return set(INTERPOLATED.findall(node.replace("$$", "")))
    if isinstance(node, dict):
        items: list[object] = [*node.keys(), *node.values()]
    elif isinstance(node, list):
        items = list(node)
    else:
        return set()
    return set().union(*(interpolated_variables(item) for item in items))


def test_every_compose_variable_is_documented_in_env_example() -> None:
    """Each variable compose.yaml interpolates (comments aside) is in .env.example."""
    interpolated = interpolated_variables(yaml.safe_load(COMPOSE_FILE.read_text()))
    assert interpolated, "compose.yaml interpolates no variable: the parsing above is broken"
    assert interpolated <= set(dotenv_values(ENV_EXAMPLE))
