"""structlog configuration shared by every process: JSON lines, bound context, no secrets.

Events are stable dotted names with fields (``log.info("cache.miss", key=...)``), never
f-strings, so one grep or one query finds every occurrence. Request and trace ids are bound
through contextvars and appear in every line written while they are bound.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"

# Field names whose values are secrets wherever they appear in an event.
_SECRET_KEY = re.compile(
    r"(token|secret|password|mnemonic|api[_-]?key|authorization|seed|private)", re.IGNORECASE
)
# Secret-looking values inside free text (an exception message quoting a header, say).
_SECRET_TEXT = re.compile(r"(Bearer\s+|cpk_|dt_\$)[^\s\"',]+")


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _SECRET_TEXT.sub(lambda m: m.group(1) + REDACTED, value)
    if isinstance(value, dict):
        return {
            k: REDACTED if _SECRET_KEY.search(str(k)) else _redact_value(v)
            for k, v in value.items()
        }
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace the values of secret-named fields, and secret-looking text, before rendering."""
    for key, value in event_dict.items():
        event_dict[key] = REDACTED if _SECRET_KEY.search(key) else _redact_value(value)
    return event_dict


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Configure structlog and route the stdlib loggers (uvicorn, FastStream) through it."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # No per-request access lines: each request is timed in the request metrics, and its id is
    # bound to every line the app logs for it (gateway.middleware).
    logging.getLogger("uvicorn.access").disabled = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A named logger; module-level ``log = get_logger(__name__)`` is the convention."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
