"""OpenAI Chat Completions (``POST …/chat/completions``): openai, openrouter, deepseek, zai,
moonshot, groq, mistral.

Same skeleton as the other protocol modules: error mapping, finish-reason table, request
builder, response parser, stream decoder. Provider quirks handled here:

- ``data: [DONE]`` ends the stream but is not required (Groq's ``event: error`` has none);
  a stream that ends without any ``finish_reason`` is ``stream_truncated``.
- Usage: the ``choices: []`` chunk (OpenAI, after the finish chunk), the finish chunk
  (DeepSeek, Z.ai, Mistral, Groq — also ``x_groq.usage``), ``choices[0].usage`` (Moonshot).
  A later chunk's ``finish_reason: null`` never erases the finish (OpenRouter).
- Repeated ``role``/``id``/``name`` in every delta (OpenRouter, Z.ai) are set-once
  (the accumulator); duplicated arguments are dropped as re-sends (the accumulator).
- Reasoning: ``reasoning_content`` (DeepSeek, Z.ai), ``reasoning`` (OpenRouter, Groq; the
  ``reasoning_details`` copy is ignored), Mistral's ``content`` list with ``thinking`` parts.
- Azure's first chunk (``choices: []``, ``model: ""``) and ``content_filter_results`` carry nothing.
- In-band errors: a chunk with a truthy ``error`` (OpenRouter, OpenAI) or ``event: error``
  (Groq). Category: what the body states (``body_category``), else ``rate_limit`` /
  ``overloaded`` for numeric codes 429 / 529, else ``stream_error``. The chunk's usage is kept.
- Error bodies: OpenRouter 404 "No endpoints found that support tool use" and OpenAI's
  ``unsupported_parameter`` on ``tools`` -> ``tools_unsupported``; context-length codes and
  messages -> ``context_length``; Z.ai code ``1261`` -> ``context_length``, ``1301`` ->
  ``content_filter``; Groq ``tool_use_failed`` (the model's tool call failed the provider's
  schema validation) -> ``malformed_tool_call``; ``engine_overloaded_error`` (Moonshot) ->
  ``overloaded``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, assert_never

from agent_runtime.errors import ProviderError
from agent_runtime.messages import FinishReason, JSONObject, ModelRequest, ModelResponse, StreamEvent
from agent_runtime.wire.accumulator import Accumulator
from agent_runtime.wire.classify import (
    SHAPE_ERRORS,
    ErrorFields,
    classify_http,
    error_fields,
    message_category,
    never_raises,
)
from agent_runtime.wire.sse import SSEEvent

__all__ = ["FINISH_REASONS", "PROTOCOL", "ChatStreamDecoder", "body_category", "inband_error", "map_finish_reason"]

# -- errors ----------------------------------------------------------------------------------------

_CODE_CATEGORIES: Final[dict[str, str]] = {
    "context_length_exceeded": "context_length",
    "string_above_max_length": "context_length",
    "1261": "context_length",  # Z.ai "Prompt exceeds max length"
    "1301": "content_filter",  # Z.ai content filter
    "content_filter": "content_filter",
    "tool_use_failed": "malformed_tool_call",  # Groq: the model's call failed schema validation
    "rate_limit_exceeded": "rate_limit",
    "insufficient_quota": "rate_limit",  # sent as 429; fallback to another route is the cure
}
_TYPE_CATEGORIES: Final[dict[str, str]] = {
    "engine_overloaded_error": "overloaded",  # Moonshot
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limit",
}


def body_category(fields: ErrorFields) -> str | None:
    """The category an OpenAI-family error body states outright, or None (then the status decides).

    Shared with ``openai_responses``: both APIs use the same error codes."""
    code = fields["code"]
    if code is not None and not isinstance(code, bool):
        category = _CODE_CATEGORIES.get(str(code))
        if category:
            return category
    kind = fields["type"]
    if kind:
        category = _TYPE_CATEGORIES.get(kind)
        if category:
            return category
    if code == "unsupported_parameter" and fields["param"] in ("tools", "tool_choice"):
        return "tools_unsupported"  # OpenAI: a model that takes no tools
    # From free text only what changes the cure is trusted (OpenRouter's "No endpoints found
    # that support tool use", context length): "overloaded" or "rate limit" in a 400/503
    # message must not override what the status says.
    category = message_category(fields["message"])
    return category if category in ("tools_unsupported", "context_length") else None


def classify_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    error, parsed = classify_http(status, headers, body)
    if parsed is None or error.category == "html_response":
        return error
    category = body_category(error_fields(parsed))
    if category and category != error.category:
        return ProviderError(category, error.message, status=status, retry_after=error.retry_after)
    return error


def inband_error(payload: Any, default: str) -> tuple[str, str]:
    """(category, message) of an error carried in a 200 body or stream event (OpenAI family)."""
    fields = error_fields(payload)
    category = body_category(fields)
    if category is None:
        code = fields["code"] if isinstance(fields["code"], int) else fields["status"]
        category = {429: "rate_limit", 529: "overloaded"}.get(code, default) if isinstance(code, int) else default
    message = fields["message"] or "error event without a message"
    if fields["raw"]:
        message = f"{message}: {fields['raw']}"
    return category, message


# -- finish reasons ------------------------------------------------------------------------------

FINISH_REASONS: Final[dict[str, FinishReason]] = {
    "stop": "stop",
    "eos": "stop",
    "end_turn": "stop",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",  # the legacy name
    "length": "length",
    "model_length": "length",  # Mistral
    "content_filter": "content_filter",
    "sensitive": "content_filter",  # Z.ai
    "error": "error",  # OpenRouter
    "network_error": "error",  # Z.ai
    "insufficient_system_resource": "error",  # DeepSeek
}


def map_finish_reason(raw: str) -> FinishReason:
    """Canonical finish reason of a raw one; unknown reasons count as ``stop``."""
    return FINISH_REASONS.get(raw, "stop")


# -- requests ------------------------------------------------------------------------------------

# Providers that take the non-deprecated name (o-series refuses ``max_tokens``; OpenRouter accepts
# the new one); the other compatible providers document ``max_tokens``.
_MAX_COMPLETION_TOKENS_PROVIDERS: Final = frozenset({"openai", "openrouter", None})


def build_request(model: str, request: ModelRequest, *, provider: str | None = None) -> JSONObject:
    messages: list[JSONObject] = []
    for m in request.messages:
        if m.kind == "system":
            messages.append({"role": "system", "content": m.content})
        elif m.kind == "user":
            messages.append({"role": "user", "content": m.content})
        elif m.kind == "assistant":
            out: JSONObject = {"role": "assistant", "content": m.text or None}
            if m.tool_calls:
                out["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        # the original string goes back verbatim, malformed or not
                        "function": {"name": c.name, "arguments": c.raw_arguments or json.dumps(c.arguments)},
                    }
                    for c in m.tool_calls
                ]
            if provider == "deepseek" and m.reasoning:
                out["reasoning_content"] = m.reasoning  # DeepSeek thinking models need it back [DS2]
            messages.append(out)
        elif m.kind == "tool_result":
            messages.append({"role": "tool", "tool_call_id": m.call_id, "content": m.content})
        else:
            assert_never(m)
    body: JSONObject = {"model": model, "messages": messages}
    body["max_completion_tokens" if provider in _MAX_COMPLETION_TOKENS_PROVIDERS else "max_tokens"] = request.max_tokens
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools
        ]
        body["tool_choice"] = "auto"
    if request.json_mode:
        body["response_format"] = {"type": "json_object"}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body


# -- content helpers -------------------------------------------------------------------------------


def _content(acc: Accumulator, content: Any) -> list[StreamEvent]:
    """``content`` as a string, or Mistral's list of ``text`` / ``thinking`` parts."""
    if isinstance(content, str):
        return acc.text(content)
    events: list[StreamEvent] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind == "text" and isinstance(part.get("text"), str):
                events += acc.text(part["text"])
            elif kind == "thinking":
                for sub in part.get("thinking") or ():
                    if isinstance(sub, Mapping) and isinstance(sub.get("text"), str):
                        events += acc.reasoning(sub["text"])
    return events


def _message(acc: Accumulator, message: Mapping[str, Any], *, whole: bool) -> list[StreamEvent]:
    """Text, reasoning and tool calls of a delta (``whole=False``) or a final message."""
    events: list[StreamEvent] = []
    content = message.get("content")
    if content:
        events += _content(acc, content)
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str):
        events += acc.reasoning(reasoning)
    tool_calls = message.get("tool_calls")
    if tool_calls:
        for position, tc in enumerate(tool_calls):
            index = tc.get("index")
            # a final message lists each call once: its position is its key
            key = index if isinstance(index, int) and not whole else position
            fn = tc.get("function") or {}
            events += acc.tool_call(key, id=tc.get("id"), name=fn.get("name"))
            arguments = fn.get("arguments")
            if isinstance(arguments, Mapping):  # a few compatible servers send an object
                arguments = json.dumps(arguments, ensure_ascii=False)
            if isinstance(arguments, str):
                events += acc.tool_args(key, arguments)
    return events


def _usage(acc: Accumulator, usage: Any) -> None:
    if isinstance(usage, Mapping):
        acc.usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))


def _finish(acc: Accumulator, raw: str) -> list[StreamEvent]:
    reason = map_finish_reason(raw)
    acc.finish(reason, raw)
    events = acc.close_tool_calls()
    if reason == "error":  # OpenRouter's finish "error" without an error object still is one
        events += acc.fail("stream_error", f"finish_reason {raw!r}")
    return events


# -- non-streaming -----------------------------------------------------------------------------------


@never_raises
def parse_response(body: Any) -> ModelResponse:
    """A non-streaming body -> the final message. Never raises: a chat completion of an unexpected shape
    (a string where an object belongs...) is ``invalid_json``, as an event is in the stream decoder."""
    acc = Accumulator()
    if not isinstance(body, Mapping):
        acc.fail("invalid_json", f"a chat completion must be a JSON object, got {type(body).__name__}")
        return acc.response()
    if body.get("error"):
        acc.fail(*inband_error(body, "server_error"))
        return acc.response()
    acc.model = body.get("model") or None
    acc.response_id = body.get("id") or None
    _usage(acc, body.get("usage"))
    choices = body.get("choices")
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], Mapping):
        acc.fail("empty_response", "the chat completion has no choices")
        return acc.response()
    choice = choices[0]
    _message(acc, choice.get("message") or {}, whole=True)
    if choice.get("usage"):  # Moonshot
        _usage(acc, choice["usage"])
    raw = choice.get("finish_reason")
    if isinstance(raw, str) and raw:
        _finish(acc, raw)
    else:
        acc.finish("tool_calls" if acc.has_tool_calls else "stop", None)
        acc.close_tool_calls()
    return acc.response()


# -- streaming ---------------------------------------------------------------------------------------


class ChatStreamDecoder:
    """Chat Completions chunks -> canonical events. See the module docstring for the quirks."""

    __slots__ = ("_acc", "_done")

    def __init__(self) -> None:
        self._acc = Accumulator()
        self._done = False

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        acc = self._acc
        data = event.data
        if acc.error is not None or self._done or not data:
            return []  # the first error ends the response; nothing counts after [DONE]
        if data[0] == "[" and data.startswith("[DONE]"):
            self._done = True
            return acc.finished_event()
        try:
            payload = json.loads(data)
        except ValueError:
            return acc.fail("invalid_json", f"stream event is not JSON: {data[:200]}")
        events: list[StreamEvent] = []
        if event.event == "error" or (isinstance(payload, dict) and payload.get("error")):
            # The body's error first, so that a finish_reason "error" in the same chunk
            # (OpenRouter's documented form) cannot replace it with a generic one.
            events += acc.fail(*inband_error(payload, "stream_error"))
        try:
            events += self._chunk(payload)  # the error chunk may still carry usage (OpenRouter)
        except SHAPE_ERRORS as exc:
            events += acc.fail("invalid_json", f"unexpected chunk shape ({exc}): {data[:200]}")
        return events

    def _chunk(self, payload: Any) -> list[StreamEvent]:
        acc = self._acc
        usage = payload.get("usage")
        if usage:
            _usage(acc, usage)
        elif payload.get("x_groq"):
            _usage(acc, payload["x_groq"].get("usage"))
        if acc.model is None and payload.get("model"):
            acc.model = payload["model"]
            acc.response_id = payload.get("id") or None
        events: list[StreamEvent] = []
        for choice in payload.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 is never requested
            delta = choice.get("delta")
            if delta:
                events += _message(acc, delta, whole=False)
            if choice.get("usage"):
                _usage(acc, choice["usage"])
            raw = choice.get("finish_reason")
            if raw and isinstance(raw, str):
                events += _finish(acc, raw)
        return events

    def finish(self) -> ModelResponse:
        return self._acc.end_of_stream("a finish_reason" + ("" if self._done else " (no [DONE])"))


class _OpenAIChat:
    name: Final = "openai_chat"
    finish_reasons: Final = FINISH_REASONS

    build_request = staticmethod(build_request)
    parse_response = staticmethod(parse_response)
    classify_error = staticmethod(classify_error)
    map_finish_reason = staticmethod(map_finish_reason)

    @staticmethod
    def stream_decoder() -> ChatStreamDecoder:
        return ChatStreamDecoder()


PROTOCOL: Final = _OpenAIChat()
