"""An offline Chutes: the OpenAI-compatible ``/v1`` API the sentiment-scorer calls.

The pipeline bench uses it as a zero-latency Chutes so the scorer runs its live code path (the
real client, a Bearer key, the chat-completion body, the reply parsing) with no network.
``make run-local`` does not need it: without ``CHUTES_API_KEY`` the scorer uses its local model.
Every completion answers ``{"score": SCORE}`` (``--score``, default 80: each trade adds stake).

Run: ``python -m offline.chutes --port 8091 [--score 80]``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from offline.serve import serve_app

DEFAULT_PORT = 8091
DEFAULT_SCORE = 80
# What GET /v1/models lists; a completion is answered for any model named.
MODELS = ("unsloth/Llama-3.2-3B-Instruct", "deepseek-ai/DeepSeek-V3-0324", "Qwen/Qwen3-32B-TEE")


def completion(content: str | None, model: str = "unsloth/Llama-3.2-3B-Instruct") -> dict[str, Any]:
    """A chat completion whose answer is ``content`` (``None``: a reply with no content, as some
    models give), in the OpenAI shape Chutes answers."""
    return {
        "id": "chatcmpl-offline",
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 50, "completion_tokens": 5, "total_tokens": 55},
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(score: int = DEFAULT_SCORE) -> Starlette:
    """The API, answering every completion with ``score``."""
    answer = json.dumps({"score": score})
    encoded: dict[str, bytes] = {}  # per model: each body is encoded once
    model_list = {"object": "list", "data": [{"id": model, "object": "model"} for model in MODELS]}

    async def chat_completions(request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return _error(401, "Invalid token")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "body is not JSON")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return _error(400, "messages is required")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _error(400, "model is required")
        if model not in encoded:
            encoded[model] = json.dumps(completion(answer, model)).encode()
        return Response(encoded[model], media_type="application/json")

    async def models(_request: Request) -> Response:
        return JSONResponse(model_list)

    return Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


def _with_score(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--score", type=int, default=DEFAULT_SCORE, help="-100..100")


if __name__ == "__main__":
    serve_app(
        lambda args: create_app(args.score),
        prog="python -m offline.chutes",
        default_port=DEFAULT_PORT,
        add_arguments=_with_score,
    )
