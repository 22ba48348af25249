"""Query parameters parsed by one pydantic model, and documented from that same model.

FastAPI validates query parameters field by field, re-inspecting each annotation on every
request; on the cached dividends path that cost more than the rest of the request together.
``parse_query`` validates the whole query string with one model in one pass, raising the same
``RequestValidationError`` FastAPI would (so the 422 body is unchanged).

``query_parameters`` publishes the model's own JSON Schema, so the documented contract is the
checked one, and schema-driven clients and fuzzers agree with the server. It is one parameter,
an object serialized as ``form``/``explode``: that puts each field in the query string as its
own ``name=value``, exactly as separate parameters would, while the schema can also say what
separate parameters cannot: the rules between fields (``dependentRequired``, ``if``/``then``,
enforced by the model's validator) and that no other parameter is accepted (the models forbid
extras). An optional field is simply left out (a query string has no null); scalars are read as
the schema writes them (``DECIMAL``, ``QueryBool``); a parameter given twice is refused.

A cached answer is asked for with the same query string again and again, and splitting and
validating it (an SS58 checksum included) cost more than the rest of the cached path: so the
last ``_MEMO_SIZE`` query strings that validated are remembered with their model, by the raw
string. Validation is a function of that string alone; the models handed out are shared, and
never mutated.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, BeforeValidator, ValidationError
from pydantic_core import PydanticCustomError

M = TypeVar("M", bound=BaseModel)

_INTEGER = re.compile(r"-?[0-9]+")
_BOOLEANS = {"true": True, "false": False}


def _integer(value: object) -> object:
    """A decimal literal, nothing else: pydantic's lax mode also takes `+1`, ` 1`, `1_0`, `1.0`."""
    if isinstance(value, str) and not _INTEGER.fullmatch(value):
        raise PydanticCustomError("int_parsing", "Input should be a valid integer")
    return value


def _boolean(value: object) -> object:
    """`true` or `false`, as the schema's boolean is written; not `1`, `yes` or `on`."""
    if isinstance(value, str):
        if value not in _BOOLEANS:
            raise PydanticCustomError("bool_parsing", "Input should be `true` or `false`")
        return _BOOLEANS[value]
    return value


# Query scalars read exactly as the schema writes them: apply to an ``int`` or ``bool`` field.
DECIMAL = BeforeValidator(_integer)
QueryBool = Annotated[bool, BeforeValidator(_boolean)]

REF_TEMPLATE = "#/$defs/{model}"
_MEMO_SIZE = 1024
_memo: dict[tuple[type[BaseModel], bytes], BaseModel] = {}


def parse_query(request: Request, model: type[M]) -> M:
    """The query string validated by ``model``; a parameter given twice is refused, not guessed."""
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
    items = request.query_params.multi_items()
    query = dict(items)
    if len(query) != len(items):
        repeated = next(name for name, _ in items if request.query_params.getlist(name)[1:])
        raise RequestValidationError(
            [{"type": "repeated", "loc": ("query", repeated), "msg": "given more than once"}]
        )
    try:
        return model.model_validate(query)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
        ) from None


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """OpenAPI ``parameters`` for ``model``: one ``in: query`` object, exploded into fields."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    definitions = schema.pop("$defs", {})
    schema["properties"] = {
        name: _without_null(_inlined(field, definitions))
        for name, field in schema["properties"].items()
    }
    description = schema.pop("description", None)
    schema.pop("title", None)
    return [
        {
            "name": "query",
            "in": "query",
            "style": "form",
            "explode": True,
            "required": False,
            "description": description,
            "schema": schema,
        }
    ]


def _inlined(field: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """The field's schema with references to the model's definitions (enums) written out."""
    if "$ref" in field:
        reference = field["$ref"].removeprefix("#/$defs/")
        return _inlined(definitions[reference], definitions) | {
            k: v for k, v in field.items() if k != "$ref"
        }
    if "anyOf" in field:
        return field | {"anyOf": [_inlined(branch, definitions) for branch in field["anyOf"]]}
    return field


def _without_null(field: dict[str, Any]) -> dict[str, Any]:
    """The field's schema without its ``null`` alternative, description and title on top."""
    field = dict(field)
    field.pop("title", None)
    branches = [b for b in field.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) == 1:
        del field["anyOf"]
        field = branches[0] | field
    if field.get("default", ...) is None:
        del field["default"]
    return field
