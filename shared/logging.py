"""structlog configuration shared by every process: one line format, bound context, no secrets.

Every line a process writes goes through here, its libraries' too: uvicorn (server and access
log) and FastStream keep their own handlers otherwise, coloured plain text mixed into the JSON.
The format is JSON lines when stdout is not a terminal (files, containers, pipes) and readable
console output on a terminal; ``LOG_FORMAT=json|console`` forces either.

Events are stable dotted names with fields (``log.info("cache.miss", key=...)``), never
f-strings, so one grep or one query finds every occurrence. Request and trace ids are bound
through contextvars and appear in every line written while they are bound.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, Literal

import structlog

REDACTED = "[redacted]"
LogFormat = Literal["auto", "json", "console"]
# Libraries that install handlers of their own; theirs are removed so their lines come here.
_LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream")

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


def uvicorn_access_fields(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn's access line as fields (``http.request`` with method, path, status, ...).

    uvicorn logs ``'%s - "%s %s HTTP/%s" %d'`` with its values as the record's args; kept as
    fields, a request is found by a query, not a regular expression.
    """
    args = event_dict.pop("positional_args", ())  # a foreign record's (pass_foreign_args)
    record = event_dict.get("_record")
    if record is not None and record.name == "uvicorn.access" and len(args) == 5:
        client, method, path, http_version, status = args
        event_dict.update(
            event="http.request",
            client=client,
            method=method,
            path=path,
            http_version=http_version,
            status=status,
        )
    return event_dict


def resolve_format(fmt: LogFormat) -> Literal["json", "console"]:
    """``auto``: console on a terminal, JSON anywhere else."""
    if fmt == "auto":
        return "console" if sys.stdout.isatty() else "json"
    return fmt


def configure_logging(level: str = "INFO", fmt: LogFormat = "auto") -> None:
    """Configure structlog and route every stdlib logger (uvicorn, FastStream) through it."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer()
        if resolve_format(fmt) == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
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
            foreign_pre_chain=[uvicorn_access_fields, *shared],
            pass_foreign_args=True,
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
    for name in _LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        library.handlers.clear()
        library.propagate = True


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A named logger; module-level ``log = get_logger(__name__)`` is the convention."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
