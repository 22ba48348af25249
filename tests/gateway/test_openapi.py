"""The OpenAPI document is the contract the server enforces: what it allows is served, what it
forbids is a 422, and every error an operation can answer is documented with its codes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from bittensor.sp_core import ss58_decode, ss58_encode
from jsonschema_rs import Draft202012Validator

from offline.substrate import FakeSubstrate
from shared.settings import Settings
from shared.ss58 import validate_ss58
from tests.conftest import HOTKEY, TRADE_TOKEN
from tests.gateway_client import running_gateway

AUTH = {"Authorization": f"Bearer {TRADE_TOKEN}"}
HOTKEY_AS_PREFIX_43 = ss58_encode(bytes(ss58_decode(HOTKEY)), 43)
BAD_CHECKSUM = HOTKEY[:-1] + "w"


@pytest.fixture
async def client(settings: Settings, substrate: FakeSubstrate) -> AsyncIterator[httpx.AsyncClient]:
    async with running_gateway(settings, substrate) as gateway:
        yield gateway


@pytest.fixture
async def schema(client: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    return document


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, methods in schema["paths"].items():
        for operation in methods.values():
            yield path, operation


def parameter_schemas(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each documented parameter's schema, the fields of an exploded query object included."""
    for parameter in operation.get("parameters", []):
        if parameter["schema"].get("type") == "object":
            yield from parameter["schema"]["properties"].items()
        else:
            yield parameter["name"], parameter["schema"]


def query_validator(schema: dict[str, Any], path: str) -> Draft202012Validator:
    """The published query schema of ``path``, checking ``format: ss58`` as the server does."""
    [parameter] = schema["paths"][path]["get"]["parameters"]
    return Draft202012Validator(
        parameter["schema"], formats={"ss58": is_ss58}, validate_formats=True
    )


def is_ss58(address: str) -> bool:
    try:
        validate_ss58(address)
    except ValueError:
        return False
    return True


def as_query(values: dict[str, Any]) -> dict[str, str]:
    """Typed values as the form style writes them in a query string."""
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}


async def test_every_integer_parameter_has_a_lower_and_an_upper_bound(
    schema: dict[str, Any],
) -> None:
    """No integer reaches the storage unbounded (an offset of 1.9e20 once answered 500)."""
    integers = [
        (path, name, field)
        for path, operation in operations(schema)
        for name, field in parameter_schemas(operation)
        if field.get("type") == "integer"
    ]
    assert {name for _, name, _ in integers} == {"netuid", "cursor", "offset", "limit"}
    for path, name, field in integers:
        assert "minimum" in field, (path, name)
        assert "maximum" in field, (path, name)


async def test_every_hotkey_parameter_publishes_the_ss58_rules(schema: dict[str, Any]) -> None:
    """Length, base58 pattern and the ss58 format, with the checksum rule in the description."""
    hotkeys = [
        field
        for _, operation in operations(schema)
        for name, field in parameter_schemas(operation)
        if name == "hotkey"
    ]
    assert len(hotkeys) == 2
    for field in hotkeys:
        assert field["minLength"] == field["maxLength"] == 48
        assert field["pattern"] == "^5[1-9A-HJ-NP-Za-km-z]{47}$"
        assert field["format"] == "ss58"
        assert "checksum" in field["description"]


async def test_every_operation_with_a_token_documents_its_errors_and_their_codes(
    schema: dict[str, Any],
) -> None:
    """Each status an operation can answer, with the error body and the codes it carries."""
    expected = {
        "tao_dividends": {
            "401": ["not_authenticated"],
            "403": ["insufficient_scope"],
            "404": ["not_found"],
            "422": ["invalid_parameter"],
            "429": ["rate_limited"],
            "503": ["chain_unavailable", "dividend_item_unavailable", "trade_unavailable"],
        },
        "get_trade": {
            "401": ["not_authenticated"],
            "404": ["not_found"],
            "422": ["invalid_parameter"],
            "429": ["rate_limited"],
            "503": ["trade_unavailable"],
        },
        "list_trades": {
            "401": ["not_authenticated"],
            "422": ["invalid_parameter"],
            "429": ["rate_limited"],
            "503": ["trade_unavailable"],
        },
    }
    found = {}
    for _, operation in operations(schema):
        if "security" not in operation:
            continue
        errors = {}
        for status, response in operation["responses"].items():
            if status == "200":
                continue
            body = response["content"]["application/json"]["schema"]
            assert body["allOf"] == [{"$ref": "#/components/schemas/ErrorResponse"}]
            errors[status] = body["properties"]["error"]["properties"]["code"]["enum"]
        found[operation["operationId"]] = errors
    assert found == expected
    dividends = schema["paths"]["/api/v1/tao_dividends"]["get"]["responses"]
    assert dividends["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert dividends["429"]["headers"]["Retry-After"]["required"] is True
    assert "ErrorResponse" in schema["components"]["schemas"]


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"netuid": 18},
        {"netuid": 0, "cursor": 65535},
        {"netuid": 18, "hotkey": HOTKEY},
        {"netuid": 18, "hotkey": HOTKEY, "trade": True},
        {"netuid": 18, "trade": False},
        {"cursor": 65535},
        {"hotkey": HOTKEY},
        {"trade": True},
        {"netuid": 18, "trade": True},
        {"netuid": 65536},
        {"netuid": -1},
        {"cursor": 65536},
        {"netuid": 18, "hotkey": BAD_CHECKSUM},
        {"netuid": 18, "hotkey": HOTKEY_AS_PREFIX_43},
        {"netuid": 18, "hotkey": HOTKEY[:-1]},
        {"netuid": 18, "other": 1},
    ],
)
async def test_the_dividends_schema_and_the_server_agree_on_every_query(
    client: httpx.AsyncClient, schema: dict[str, Any], query: dict[str, Any]
) -> None:
    """A query the published schema allows is served; one it forbids is refused with 422."""
    allowed = query_validator(schema, "/api/v1/tao_dividends").is_valid(query)
    response = await client.get("/api/v1/tao_dividends", params=as_query(query), headers=AUTH)
    assert (response.status_code != 422) is allowed, response.text
    assert response.status_code in (200, 404, 422)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"netuid": 18, "hotkey": HOTKEY, "state": "executed", "offset": 100_000, "limit": 100},
        {"offset": 189894511186460803072},
        {"offset": -1},
        {"limit": 0},
        {"limit": 101},
        {"state": "lost"},
        {"hotkey": BAD_CHECKSUM},
        {"netuid": 18, "sort": "asc"},
    ],
)
async def test_the_trade_list_schema_and_the_server_agree_on_every_query(
    client: httpx.AsyncClient, schema: dict[str, Any], query: dict[str, Any]
) -> None:
    """Out-of-range pages are refused by the schema and the server alike, never a 500."""
    allowed = query_validator(schema, "/api/v1/trades").is_valid(query)
    response = await client.get("/api/v1/trades", params=as_query(query), headers=AUTH)
    assert response.status_code == (200 if allowed else 422), response.text
