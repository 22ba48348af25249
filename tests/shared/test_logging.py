"""Logging: JSON lines with bound context, and no secret ever written."""

from __future__ import annotations

import json

import pytest
import structlog

from shared.logging import configure_logging, get_logger


def test_secret_fields_and_bearer_tokens_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    """Secret-named fields and secrets quoted in text are replaced before rendering."""
    configure_logging("INFO", "json")
    with structlog.contextvars.bound_contextvars(request_id="r-1"):
        get_logger("test").info(
            "auth.checked",
            api_key="dt_$abc123",
            wallet_mnemonic="diamond like interest",
            detail="header was Bearer abcdef123456",
            nested={"token": "zzz", "netuid": 18},
        )
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "auth.checked"
    assert line["request_id"] == "r-1"
    assert line["api_key"] == "[redacted]"
    assert line["wallet_mnemonic"] == "[redacted]"
    assert line["detail"] == "header was Bearer [redacted]"
    assert line["nested"] == {"token": "[redacted]", "netuid": 18}
