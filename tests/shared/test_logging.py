"""Logging: JSON lines with bound context, and no secret ever written."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from shared.logging import configure_logging, get_logger, resolve_format


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


def test_auto_writes_json_when_stdout_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """LOG_FORMAT=auto (the default) renders JSON into a file or pipe."""
    assert resolve_format("auto") == "json"
    configure_logging("INFO", "auto")
    get_logger("test").info("cache.miss", key="k")
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["event"] == "cache.miss"


def test_console_can_be_forced(capsys: pytest.CaptureFixture[str]) -> None:
    """LOG_FORMAT=console renders readable text even where auto would choose JSON."""
    configure_logging("INFO", "console")
    get_logger("test").info("cache.miss", key="k")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert "cache.miss" in line
    assert "key=k" in line
    assert not line.startswith("{")


def test_library_loggers_with_handlers_of_their_own_come_through_the_same_format(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """FastStream's and uvicorn's loggers lose their own handlers: their lines are JSON too."""
    library = logging.getLogger("faststream")
    library.addHandler(logging.StreamHandler())
    library.propagate = False
    configure_logging("INFO", "json")
    library.info("FastStream app starting...")
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", "/health", "1.1", 200
    )
    first, second = (json.loads(line) for line in capsys.readouterr().out.strip().splitlines())
    assert first["event"] == "FastStream app starting..."
    assert first["logger"] == "faststream"
    assert second["event"] == "http.request"
    assert (second["method"], second["path"], second["status"]) == ("GET", "/health", 200)
