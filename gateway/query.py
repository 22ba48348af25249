"""Query parameters parsed by one pydantic model, and documented from it.

FastAPI validates query parameters field by field, re-inspecting each annotation on every
request; on the cached dividends path that cost more than the rest of the request together.
``parse_query`` validates the whole query string with one model in one pass, raising the same
``RequestValidationError`` FastAPI would (so the 422 body is unchanged), and
``query_parameters`` writes the same OpenAPI parameter list FastAPI would have.

A cached answer is asked for with the same query string again and again, and splitting and
validating it (an SS58 checksum included) cost more than the rest of the cached path: so the
last ``_MEMO_SIZE`` query strings that validated are remembered with their model, by the raw
string. Validation is a function of that string alone; the models handed out are shared, and
never mutated.
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

_MEMO_SIZE = 1024
_memo: dict[tuple[type[BaseModel], bytes], BaseModel] = {}


def parse_query(request: Request, model: type[M]) -> M:
    key = (model, request.scope["query_string"])
    known = _memo.get(key)
    if isinstance(known, model):
        return known
    parsed = _validate(request, model)
    if len(_memo) >= _MEMO_SIZE:
        del _memo[next(iter(_memo))]  # the oldest
    _memo[key] = parsed
    return parsed


def _validate(request: Request, model: type[M]) -> M:
    try:
        return model.model_validate(dict(request.query_params))
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` for ``model``'s fields, as ``in: query``."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(schema.get("required", []))
    parameters = []
    for name, field_schema in schema["properties"].items():
        description = field_schema.pop("description", None)
        field_schema.pop("title", None)
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": field_schema,
        }
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters
