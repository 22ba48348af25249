"""Rendering the console's templates, with the filters of ``words`` and one set of headers.

Every console answer forbids scripts, styles and requests from anywhere but the gateway
(Content-Security-Policy), so even a value that slipped past autoescaping could not run or send
the token elsewhere; answers carry trade data and are never cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from gateway.console import words

HERE = Path(__file__).parent
STATIC = HERE / "static"
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_templates = Jinja2Templates(directory=HERE / "templates")
_templates.env.filters.update(
    trade_state=words.trade_state,
    hop_state=words.hop_state,
    units=words.units,
    tao=words.tao,
    when=words.when,
    duration=words.duration,
    short=words.short,
    attempts=words.attempts,
    sentence=words.sentence,
    outcome=words.outcome,
    hop_lines=words.hop_lines,
)


def render(
    request: Request, template: str, *, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    return _templates.TemplateResponse(
        request, template, context, headers={**HEADERS, **(headers or {})}
    )
