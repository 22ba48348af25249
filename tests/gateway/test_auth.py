"""Authentication, scopes and rate limiting of the API."""

from __future__ import annotations

from typing import Any

import pytest

from offline.substrate import ROOT_DIVIDENDS, FakeSubstrate
from shared.settings import Settings
from tests.conftest import HOTKEY, OLD_READ_TOKEN, READ_TOKEN, TRADE_TOKEN
from tests.gateway_client import running_gateway

URL = "/api/v1/tao_dividends"
QUERY: dict[str, Any] = {"netuid": 18, "hotkey": HOTKEY}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"X-API-Key": "wrong-token-0123456789"},
        {"Authorization": f"Basic {READ_TOKEN}"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "wrong-bearer", "wrong-api-key", "not-bearer", "empty-bearer"],
)
async def test_a_missing_or_wrong_token_is_401_with_www_authenticate(
    settings: Settings, substrate: FakeSubstrate, headers: dict[str, str]
) -> None:
    """Without a valid token nothing is read and the answer says how to authenticate."""
    async with running_gateway(settings, substrate) as client:
        response = await client.get(URL, params=QUERY, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "not_authenticated"
    assert substrate.reads[ROOT_DIVIDENDS] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {READ_TOKEN}"},
        {"authorization": f"bearer {READ_TOKEN}"},
        {"X-API-Key": READ_TOKEN},
        {"X-API-Key": OLD_READ_TOKEN},
    ],
    ids=["bearer", "bearer-lowercase", "api-key", "second-valid-token"],
)
async def test_any_configured_token_in_either_header_style_is_accepted(
    settings: Settings, substrate: FakeSubstrate, headers: dict[str, str]
) -> None:
    """Both header styles work, and several tokens are valid at once (rotation)."""
    async with running_gateway(settings, substrate) as client:
        response = await client.get(URL, params=QUERY, headers=headers)
    assert response.status_code == 200


async def test_trade_with_a_read_only_token_is_403(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """trade=true needs the trade scope; a read-only token is refused and nothing is queued."""
    async with running_gateway(settings, substrate) as client:
        response = await client.get(
            URL, params={**QUERY, "trade": "true"}, headers={"X-API-Key": READ_TOKEN}
        )
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "insufficient_scope",
        "message": "this token lacks the 'trade' scope",
        "field": "trade",
    }


async def test_health_and_readiness_need_no_token(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """/health and /ready answer without authentication; /ready reports each dependency."""
    async with running_gateway(settings, substrate) as client:
        health = await client.get("/health")
        ready = await client.get("/ready")
    assert health.status_code == 200
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"redis": "ok", "mongodb": "ok", "chain": "ok"},
    }


async def test_readiness_reports_the_chain_when_it_is_down(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """/ready is 503 and names the dependency that is not ready."""
    import bittensor

    async with running_gateway(settings, substrate) as client:
        substrate.failure = bittensor.RpcConnectionError("down")
        ready = await client.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"]["chain"].startswith("unavailable")
    assert ready.json()["checks"]["redis"] == "ok"


async def test_a_token_over_its_rate_limit_is_429_with_retry_after(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """Each token has its own budget per window, counted in Redis."""
    settings = settings.model_copy(update={"rate_limit_requests": 3})
    async with running_gateway(settings, substrate) as client:
        reader = [
            (await client.get(URL, params=QUERY, headers={"X-API-Key": READ_TOKEN})).status_code
            for _ in range(4)
        ]
        limited = await client.get(URL, params=QUERY, headers={"X-API-Key": READ_TOKEN})
        trader = await client.get(URL, params=QUERY, headers={"X-API-Key": TRADE_TOKEN})
    assert reader == [200, 200, 200, 429]
    assert limited.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= settings.rate_limit_window_seconds
    assert trader.status_code == 200


async def test_the_openapi_document_describes_auth_parameters_and_errors(
    settings: Settings, substrate: FakeSubstrate
) -> None:
    """/docs is served, and the schema names both auth schemes and the error responses."""
    async with running_gateway(settings, substrate) as client:
        docs = await client.get("/docs")
        schema = (await client.get("/openapi.json")).json()
    assert docs.status_code == 200
    operation = schema["paths"]["/api/v1/tao_dividends"]["get"]
    [query] = operation["parameters"]
    assert set(query["schema"]["properties"]) == {"netuid", "hotkey", "trade", "cursor"}
    assert {"401", "403", "422", "429", "503"} <= set(operation["responses"])
    assert set(schema["components"]["securitySchemes"]) == {"BearerToken", "ApiKeyHeader"}
    assert operation["security"] == [{"BearerToken": []}, {"ApiKeyHeader": []}]
