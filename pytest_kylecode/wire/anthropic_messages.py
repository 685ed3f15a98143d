"""Anthropic Messages on the wire, written by the emulator.

Same skeleton as ``openai_chat``: ``FINISH``, ``validate``, ``render``, ``error_response``,
``stream_error_event``, ``is_finish_event``, ``malformed_event``.

Streams follow Anthropic's traffic: ``message_start`` (provisional usage) -> per block
``content_block_start`` / ``content_block_delta``* / ``content_block_stop`` (thinking, text, then
each ``tool_use``, strictly one after the other; tool input as ``input_json_delta`` fragments, the
first one ``""``) -> ``message_delta`` (stop reason and cumulative usage) -> ``message_stop``, with a
``ping`` after the first block start and the padding spaces Anthropic puts before a payload's last ``}``.
"""

from __future__ import annotations

import json
from typing import Final

from agent_runtime.messages import JSONObject
from pytest_kylecode.faults.catalog import HTTP_ANSWER_KINDS
from pytest_kylecode.wire.common import (
    CUT_JSON,
    DEFAULT_TIMING,
    Plan,
    Timing,
    WireResponse,
    dumps,
    html_page,
    sse,
    stable_token,
)

PROTOCOL: Final = "anthropic_messages"
FINISH: Final = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens", "content_filter": "refusal"}
PING: Final = b'event: ping\ndata: {"type": "ping"}\n\n'
_REFUSAL_DETAILS: Final = {
    "type": "refusal",
    "category": "cyber",
    "explanation": "This request was declined by the emulated content filter.",
}


def validate(body: JSONObject) -> str | None:
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    return None


def render(plan: Plan, body: JSONObject, timing: Timing = DEFAULT_TIMING) -> WireResponse:
    ids = _Ids(plan)
    headers = _common_headers(ids.request)
    if plan.stream:
        events = _stream_events(plan, ids)
        headers = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache"), *headers]
        return WireResponse(200, headers, timing.stamp(events))
    payload = dumps(_message(plan, ids)).encode()
    n_events = 4 + len(plan.reasoning_pieces) + len(plan.text_pieces) + sum(2 + len(c.pieces) for c in plan.calls)
    return WireResponse(200, [("content-type", "application/json"), *headers], timing.single(payload, n_events))


class _Ids:
    __slots__ = ("calls", "message", "request", "signature")

    def __init__(self, plan: Plan) -> None:
        self.message = "msg_01" + stable_token(plan.seed("msg"), 22)
        self.request = "req_011C" + stable_token(plan.seed("request"), 20)
        self.calls = ["toolu_01" + stable_token(plan.seed("toolu", i), 22) for i in range(len(plan.calls))]
        self.signature = stable_token(plan.seed("signature"), 88) + "=="


def _common_headers(request_id: str) -> list[tuple[str, str]]:
    return [("request-id", request_id), ("anthropic-organization-id", "00000000-0000-4000-8000-000000000000")]


def _input(arguments: str) -> object:
    """``tool_use.input`` of a JSON body: an object; scripted malformed arguments stay a string."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _blocks(plan: Plan, ids: _Ids) -> list[JSONObject]:
    blocks: list[JSONObject] = []
    if plan.reasoning:
        blocks.append({"type": "thinking", "thinking": plan.reasoning, "signature": ids.signature})
    if plan.text:
        blocks.append({"type": "text", "text": plan.text})
    for i, call in enumerate(plan.calls):
        blocks.append({"type": "tool_use", "id": ids.calls[i], "name": call.name, "input": _input(call.arguments)})
    return blocks


def _message(plan: Plan, ids: _Ids) -> JSONObject:
    message: JSONObject = {
        "id": ids.message,
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": _blocks(plan, ids),
        "stop_reason": FINISH[plan.finish],
        "stop_sequence": None,
        "usage": {
            "input_tokens": plan.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": plan.output_tokens,
            "service_tier": "standard",
        },
    }
    if plan.finish == "content_filter":
        message["stop_details"] = _REFUSAL_DETAILS
    return message


def _stream_events(plan: Plan, ids: _Ids) -> list[bytes]:
    events: list[bytes] = []

    def event(name: str, payload: JSONObject) -> None:
        text = dumps(payload)
        pad = " " * ((len(events) * 5 + 3) % 16)  # Anthropic pads 0-15 spaces before the final brace
        events.append(sse(text[:-1] + pad + "}", name))

    event(
        "message_start",
        {
            "type": "message_start",
            "message": {
                "model": plan.model,
                "id": ids.message,
                "type": "message",
                "role": "assistant",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": plan.input_tokens,
                    "cache_creation_input_tokens": 0,
                    "cache_read_input_tokens": 0,
                    "output_tokens": 1,
                    "service_tier": "standard",
                },
            },
        },
    )
    index = 0

    def block(start: JSONObject, deltas: list[JSONObject]) -> None:
        nonlocal index
        event("content_block_start", {"type": "content_block_start", "index": index, "content_block": start})
        if index == 0:
            events.append(PING)
        for delta in deltas:
            event("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        event("content_block_stop", {"type": "content_block_stop", "index": index})
        index += 1

    if plan.reasoning:
        block(
            {"type": "thinking", "thinking": "", "signature": ""},
            [{"type": "thinking_delta", "thinking": p} for p in plan.reasoning_pieces]
            + [{"type": "signature_delta", "signature": ids.signature}],
        )
    if plan.text:
        block({"type": "text", "text": ""}, [{"type": "text_delta", "text": p} for p in plan.text_pieces])
    for i, call in enumerate(plan.calls):
        block(
            {"type": "tool_use", "id": ids.calls[i], "name": call.name, "input": {}},
            [{"type": "input_json_delta", "partial_json": p} for p in ("", *call.pieces)],
        )
    stop: JSONObject = {"stop_reason": FINISH[plan.finish], "stop_sequence": None}
    if plan.finish == "content_filter":
        stop["stop_details"] = _REFUSAL_DETAILS
    event(
        "message_delta",
        {
            "type": "message_delta",
            "delta": stop,
            "usage": {
                "input_tokens": plan.input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": plan.output_tokens,
            },
        },
    )
    event("message_stop", {"type": "message_stop"})
    return events


# -- errors ----------------------------------------------------------------------------------------

# kind -> (status, error type, message) (the fault catalog in Anthropic's error shape).
_ERRORS: Final[dict[str, tuple[int, str, str]]] = {
    "http_400": (400, "invalid_request_error", "messages.0.content: Input should be a valid list"),
    "http_401": (401, "authentication_error", "invalid x-api-key"),
    "http_404": (404, "not_found_error", "model: {model}"),
    "http_429": (
        429,
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of "
        "50 requests per minute. Please try again later.",
    ),
    "http_500": (500, "api_error", "Internal server error"),
    "http_503": (503, "api_error", "Service unavailable"),
    "tools_unsupported": (400, "invalid_request_error", "tools: tool use is not supported by this model"),
    "context_length": (400, "invalid_request_error", "prompt is too long: 200251 tokens > 200000 maximum"),
}
# Anthropic's real 529 body, 75 bytes, without a request_id.
OVERLOADED_BODY: Final = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'


def error_response(
    kind: str,
    *,
    provider: str = "anthropic",
    model: str = "",
    seed: str = "",
    message: str | None = None,
    timing: Timing = DEFAULT_TIMING,
) -> WireResponse:
    """The HTTP answer for an HTTP fault ``kind`` (one of ``HTTP_ANSWER_KINDS``); every Anthropic-protocol
    provider is answered the same way (no provider-specific shapes are known). ``message``
    replaces the default message of a JSON error."""
    if kind not in HTTP_ANSWER_KINDS:
        raise ValueError(f"{kind!r} is not an HTTP fault; expected one of {', '.join(sorted(HTTP_ANSWER_KINDS))}")
    request_id = "req_011C" + stable_token(f"{provider}\x1f{model}\x1f{kind}\x1f{seed}", 20)
    headers = [("request-id", request_id)]
    if kind in ("html_200", "html_502", "http_502"):
        status = 200 if kind == "html_200" else 502
        return WireResponse(status, [("content-type", "text/html"), *headers], timing.single(html_page(status), 1))
    if kind in ("invalid_json", "empty_response"):
        body = CUT_JSON if kind == "invalid_json" else b""
        return WireResponse(200, [("content-type", "application/json"), *headers], timing.single(body, 1))
    if kind == "http_529":
        headers.append(("x-should-retry", "true"))
        return WireResponse(529, [("content-type", "application/json"), *headers], timing.single(OVERLOADED_BODY, 1))
    status, etype, default = _ERRORS[kind]
    if status == 429:
        headers += [("retry-after", "1"), ("anthropic-ratelimit-requests-remaining", "0")]
    text = default.replace("{model}", model or "claude") if message is None else message
    payload = dumps({"type": "error", "error": {"type": etype, "message": text}, "request_id": request_id})
    return WireResponse(status, [("content-type", "application/json"), *headers], timing.single(payload.encode(), 1))


def stream_error_event(
    provider: str = "anthropic", *, model: str = "", response_id: str = "", sequence_number: int = 0
) -> bytes:
    """Anthropic's in-stream error (documented form, spaces included); the stream ends after it."""
    return b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'


def is_finish_event(event: bytes) -> bool:
    """Whether ``event`` is ``message_delta`` (the stop reason): a stream cut before it is truncated."""
    return event.startswith(b"event: message_delta\n")


def malformed_event() -> bytes:
    return b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"te\n\n'
