"""OpenAI Chat Completions on the wire, written by the emulator.

Skeleton shared by the three wire modules:
``FINISH`` (canonical -> wire), ``validate(body)``, ``render(plan, body, timing)``,
``error_response(kind, ...)``, ``stream_error_event(provider, ...)``, ``is_finish_event(event)``,
``malformed_event()``.

Output follows OpenAI's own traffic: role-first delta, a tool-call header chunk (id, type, name,
``arguments: ""``) then argument fragments, one call after the other; a finish chunk with an empty
delta; a ``choices: []`` usage chunk only with ``stream_options.include_usage``; ``data: [DONE]``.
Reasoning, which OpenAI does not stream, uses DeepSeek's ``reasoning_content``.
"""

from __future__ import annotations

import json
from typing import Final

from agent_runtime.messages import JSONObject
from pytest_kylecode.faults.catalog import HTTP_ANSWER_KINDS
from pytest_kylecode.wire.common import (
    CREATED,
    CUT_JSON,
    DEFAULT_TIMING,
    Plan,
    Timing,
    WireResponse,
    dumps,
    html_page,
    sse,
    stable_hex,
    stable_token,
)

PROTOCOL: Final = "openai_chat"
FINISH: Final = {"stop": "stop", "tool_calls": "tool_calls", "length": "length", "content_filter": "content_filter"}
DONE: Final = b"data: [DONE]\n\n"
_OBFUSCATION_PAD: Final = "q7Xf0LmZ3aPkR9vTy2WbNc8HdJg5Es1Uo4Ki6Yh"


def validate(body: JSONObject) -> str | None:
    """Why the request is not a Chat Completions request, or ``None``."""
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "'messages' must be a non-empty array"
    return None


def render(plan: Plan, body: JSONObject, timing: Timing = DEFAULT_TIMING) -> WireResponse:
    ids = _Ids(plan)
    if plan.stream:
        events = _stream_events(plan, body, ids)
        headers = [("content-type", "text/event-stream; charset=utf-8"), *_common_headers(ids.request)]
        return WireResponse(200, headers, timing.stamp(events))
    payload = dumps(_completion(plan, ids)).encode()
    headers = [("content-type", "application/json"), *_common_headers(ids.request)]
    return WireResponse(200, headers, timing.single(payload, _n_events(plan)))


class _Ids:
    __slots__ = ("calls", "completion", "fingerprint", "request")

    def __init__(self, plan: Plan) -> None:
        self.completion = "chatcmpl-" + stable_token(plan.seed("chatcmpl"), 29)
        self.request = "req_" + stable_hex(plan.seed("request"), 32)
        self.fingerprint = "fp_" + stable_hex(plan.model, 10)
        self.calls = ["call_" + stable_token(plan.seed("call", i), 24) for i in range(len(plan.calls))]


def _common_headers(request_id: str) -> list[tuple[str, str]]:
    return [("x-request-id", request_id), ("openai-version", "2020-10-01"), ("openai-processing-ms", "250")]


def _n_events(plan: Plan) -> int:
    return 3 + len(plan.reasoning_pieces) + len(plan.text_pieces) + sum(1 + len(c.pieces) for c in plan.calls)


def _usage(plan: Plan) -> JSONObject:
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": plan.output_tokens,
        "total_tokens": plan.input_tokens + plan.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _stream_events(plan: Plan, body: JSONObject, ids: _Ids) -> list[bytes]:
    raw_options = body.get("stream_options")
    options: JSONObject = raw_options if isinstance(raw_options, dict) else {}
    include_usage = options.get("include_usage") is True
    obfuscate = options.get("include_obfuscation", True) is not False
    # The chunk envelope is the same on every event: build it once, splice each choice in.
    head = (
        f'{{"id":"{ids.completion}","object":"chat.completion.chunk","created":{CREATED},'
        f'"model":{dumps(plan.model)},"service_tier":"default","system_fingerprint":"{ids.fingerprint}","choices":['
    )
    events: list[bytes] = []

    def chunk(delta: JSONObject, finish: str | None = None) -> None:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        tail = "]"
        if include_usage:
            tail += ',"usage":null'
        if obfuscate:
            tail += f',"obfuscation":"{_obfuscation(len(events))}"'
        events.append(sse(head + dumps(choice) + tail + "}"))

    calls = plan.calls
    alone = len(calls) == 1 and not plan.text and not plan.reasoning
    if alone:
        # A lone call carries the role in its header chunk, as OpenAI sends it.
        chunk({"role": "assistant", "content": None, "tool_calls": [_header(ids, plan, 0)], "refusal": None})
    else:
        chunk({"role": "assistant", "content": "" if (plan.text or plan.reasoning) else None, "refusal": None})
    for piece in plan.reasoning_pieces:
        chunk({"content": None, "reasoning_content": piece})
    for piece in plan.text_pieces:
        chunk({"content": piece})
    for i, call in enumerate(calls):
        if not (alone and i == 0):
            chunk({"tool_calls": [_header(ids, plan, i)]})
        for piece in call.pieces:
            chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    chunk({}, FINISH[plan.finish])
    if include_usage:
        usage_tail = f',"obfuscation":"{_obfuscation(len(events))}"' if obfuscate else ""
        events.append(sse(head + '],"usage":' + dumps(_usage(plan)) + usage_tail + "}"))
    events.append(DONE)
    return events


def _header(ids: _Ids, plan: Plan, i: int) -> JSONObject:
    return {
        "index": i,
        "id": ids.calls[i],
        "type": "function",
        "function": {"name": plan.calls[i].name, "arguments": ""},
    }


def _obfuscation(n: int) -> str:
    # Real chunks carry random padding of varying length; ours varies deterministically.
    start = (n * 7) % 20
    return _OBFUSCATION_PAD[start : start + 3 + (n * 5) % 13]


def _completion(plan: Plan, ids: _Ids) -> JSONObject:
    message: JSONObject = {"role": "assistant", "content": plan.text or None, "refusal": None, "annotations": []}
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    if plan.calls:
        message["tool_calls"] = [
            {"id": ids.calls[i], "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(plan.calls)
        ]
    return {
        "id": ids.completion,
        "object": "chat.completion",
        "created": CREATED,
        "model": plan.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": FINISH[plan.finish]}],
        "usage": _usage(plan),
        "service_tier": "default",
        "system_fingerprint": ids.fingerprint,
    }


# -- errors ----------------------------------------------------------------------------------------

# kind -> (status, type, code, param, message). OpenAI's own bodies.
OPENAI_ERRORS: Final[dict[str, tuple[int, str, str | None, str | None, str]]] = {
    "http_400": (
        400,
        "invalid_request_error",
        "unsupported_value",
        "messages[0].role",
        "Invalid value: 'developer'. Supported values are: 'system', 'assistant', 'user', 'function', and 'tool'.",
    ),
    "http_401": (
        401,
        "invalid_request_error",
        "invalid_api_key",
        None,
        "Incorrect API key provided: sk-emul************0000. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    "http_404": (
        404,
        "invalid_request_error",
        "model_not_found",
        None,
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    "http_429": (
        429,
        "tokens",
        "rate_limit_exceeded",
        None,
        "Rate limit reached for {model} in organization org-emulator on tokens per min (TPM): "
        "Limit 30000, Used 30000, Requested 1200. Please try again in 1s.",
    ),
    "http_500": (
        500,
        "server_error",
        None,
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    "http_503": (
        503,
        "server_error",
        None,
        None,
        "That model is currently overloaded with other requests. You can retry your request, "
        "or contact us through our help center if the error persists.",
    ),
    "http_529": (529, "server_error", None, None, "The server is overloaded. Please try again later."),
    "context_length": (
        400,
        "invalid_request_error",
        "context_length_exceeded",
        "messages",
        "This model's maximum context length is 128000 tokens. However, your messages resulted in "
        "131072 tokens. Please reduce the length of the messages.",
    ),
}
# OpenRouter: numeric code = status, no type.
_OPENROUTER_MESSAGES: Final = {
    400: "Bad Request",
    401: "No cookie auth credentials found",
    404: "No endpoints found for {model}.",
    429: "Provider returned error",
    500: "Internal Server Error",
    502: "Provider returned error",
    503: "Service Unavailable",
    529: "Provider returned error",
}
TOOLS_UNSUPPORTED_MESSAGE: Final = (
    "No endpoints found that support tool use. To learn more about provider "
    "routing, visit: https://openrouter.ai/docs/guides/routing/provider-selection"
)


def error_response(
    kind: str,
    *,
    provider: str = "openai",
    model: str = "",
    seed: str = "",
    message: str | None = None,
    timing: Timing = DEFAULT_TIMING,
) -> WireResponse:
    """The HTTP answer of ``provider`` (an ``openai_chat`` provider name) for an HTTP fault ``kind``.

    ``kind`` is one of ``faults.catalog.HTTP_ANSWER_KINDS``; ``seed`` varies the request id (same seed, same bytes);
    ``message`` replaces the default message of an OpenAI-shaped JSON error (and drops its
    ``code`` and ``param``, which belong to the default message).
    """
    request_id = "req_" + stable_hex(f"{provider}\x1f{model}\x1f{kind}\x1f{seed}", 32)
    headers = [("x-request-id", request_id), ("openai-version", "2020-10-01")]
    status, body, content_type = _error_parts(kind, provider, model or "gpt-4o-mini", message)
    if status == 429 or (provider == "openrouter" and status == 503):
        headers.append(("retry-after", "1"))
    return WireResponse(status, [("content-type", content_type), *headers], timing.single(body, 1))


def _error_parts(kind: str, provider: str, model: str, message: str | None) -> tuple[int, bytes, str]:
    if kind not in HTTP_ANSWER_KINDS:
        raise ValueError(f"{kind!r} is not an HTTP fault; expected one of {', '.join(sorted(HTTP_ANSWER_KINDS))}")
    if kind in ("html_200", "html_502"):
        status = int(kind[5:])
        return status, html_page(status), "text/html"
    if kind == "invalid_json":
        return 200, CUT_JSON, "application/json"
    if kind == "empty_response":
        return 200, b"", "application/json"
    if kind == "tools_unsupported":
        # Every chat provider answers as OpenRouter does: the only real-world shape known.
        return 404, dumps({"error": {"message": TOOLS_UNSUPPORTED_MESSAGE, "code": 404}}).encode(), "application/json"
    if provider == "openrouter":
        return _openrouter_error(kind, model, message)
    if kind == "context_length" and provider == "deepseek":
        message = (
            "This model's maximum context length is 131072 tokens. However, you requested 131134 tokens "
            "(127038 in the messages, 4096 in the completion). Please reduce the length of the messages "
            "or completion."
        )
        err = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_request_error",
            }
        }
        return 400, dumps(err).encode(), "application/json"
    if kind == "context_length" and provider == "zai":
        body = dumps({"error": {"code": "1261", "message": "Prompt exceeds max length"}}).encode()
        return 400, body, "application/json"
    if kind == "http_502":
        return 502, html_page(502), "text/html"
    status, etype, code, param, default = OPENAI_ERRORS[kind]
    if message is not None:
        code = param = None
    text = default.replace("{model}", model) if message is None else message
    err = {"error": {"message": text, "type": etype, "param": param, "code": code}}
    # OpenAI pretty-prints its error bodies (4-space indent, trailing newline).
    return status, (json.dumps(err, indent=4) + "\n").encode(), "application/json; charset=utf-8"


def _openrouter_error(kind: str, model: str, override: str | None) -> tuple[int, bytes, str]:
    if kind == "context_length" and override is None:
        message = (
            "This endpoint's maximum context length is 32768 tokens. However, you requested about "
            "42832 tokens (38736 of text input, 4096 in the output). Please reduce the length of "
            'either one, or use the "middle-out" transform to compress your prompt automatically.'
        )
        return 400, dumps({"error": {"message": message, "code": 400}}).encode(), "application/json"
    status = 400 if kind == "context_length" else int(kind[5:])
    message = _OPENROUTER_MESSAGES[status].replace("{model}", model) if override is None else override
    error: JSONObject = {"message": message, "code": status}
    if status in (429, 502, 529):
        error["metadata"] = {"provider_name": "Emulated", "raw": "upstream error"}
    return status, dumps({"error": error}).encode(), "application/json"


def stream_error_event(
    provider: str = "openai", *, model: str = "", response_id: str = "", sequence_number: int = 0
) -> bytes:
    """The in-band error ``provider`` sends inside a 200 stream, plus whatever ends the stream after it.

    OpenRouter: an error chunk then ``[DONE]``; Groq: ``event: error`` then EOF; every other chat
    provider OpenAI's ``data: {"error": …}`` then EOF. ``sequence_number`` is unused here (same
    signature in every wire module).
    """
    if provider == "openrouter":
        chunk = {
            "id": response_id or "gen-" + stable_hex(model, 24),
            "provider": "Emulated",
            "model": model or "emulated-model",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
            "choices": [
                {"index": 0, "delta": {"content": ""}, "finish_reason": "error", "native_finish_reason": "error"}
            ],
        }
        return sse(dumps(chunk)) + DONE
    if provider == "groq":
        err = {"error": {"message": "Service Unavailable", "type": "internal_server_error", "status_code": 503}}
        return sse(dumps(err), "error")
    # The shape quoted from OpenAI streams keeps Python-style separators.
    return sse(
        '{"error": {"message": "The server had an error while processing your request. '
        'Sorry about that!", "type": "server_error"}}'
    )


def is_finish_event(event: bytes) -> bool:
    """Whether ``event`` (one SSE event) carries the finish reason: a stream cut before it is truncated."""
    return b'"finish_reason":"' in event


def malformed_event() -> bytes:
    """A ``data:`` line whose JSON breaks off (the ``malformed_sse`` fault)."""
    return b'data: {"id":"chatcmpl-x","object":"chat.com\n\n'
