"""Anthropic Messages (``POST …/messages``): anthropic, moonshot-anthropic (Kimi),
deepseek-anthropic.

Same skeleton as the other protocol modules. Quirks handled here:

- Events are typed by the payload's ``type`` (the ``event:`` line is only a fallback), so a
  server that omits ``event:`` lines still decodes. ``ping`` anywhere is ignored, and so is
  the padding before a payload's final ``}`` (it is JSON whitespace).
- Tool input: ``content_block_start.input`` plus ``input_json_delta`` fragments, combined by
  the accumulator's ``start_input`` rule (Kimi sends the full input at start *and* re-sends
  it as deltas; DeepSeek sends an empty input and no delta for parameterless tools).
- Only ``tool_use`` blocks are tool calls for the agent; ``server_tool_use`` (run by
  Anthropic), ``*_tool_result``, ``redacted_thinking`` and ``signature_delta`` carry nothing
  canonical. ``thinking`` blocks are reasoning.
- Usage: ``message_start`` gives input and provisional output tokens; ``message_delta``
  carries cumulative totals that win (output always, input when present).
- A stream that ends without a ``message_delta`` stop reason or a ``message_stop`` is
  ``stream_truncated`` (the SDK would return ``stop_reason=None`` silently).
- Error bodies: the ``error.type`` decides (``overloaded_error`` -> overloaded, ...), except a
  plain ``invalid_request_error`` whose message says the prompt is too long
  (``context_length``) or that tools are not supported (``tools_unsupported``).
- ``event: error`` / ``{"type":"error"}`` in a 200 stream: the error type decides when it is
  specific (``overloaded_error`` -> ``overloaded``, ``rate_limit_error`` -> ``rate_limit``,
  context-length messages -> ``context_length``), else ``stream_error``.
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

__all__ = ["FINISH_REASONS", "PROTOCOL", "MessagesStreamDecoder", "map_finish_reason"]

# -- errors ----------------------------------------------------------------------------------------

_TYPE_CATEGORIES: Final[dict[str, str]] = {
    "authentication_error": "auth",
    "permission_error": "auth",
    "billing_error": "auth",
    "not_found_error": "not_found",
    "request_too_large": "context_length",
    "rate_limit_error": "rate_limit",
    "api_error": "server_error",
    "timeout_error": "timeout",
    "overloaded_error": "overloaded",
    "engine_overloaded_error": "overloaded",  # Kimi's OpenAI-style name on its Anthropic endpoint
}
# In a 200 stream only a category that changes what recovery should do beats stream_error.
_INBAND_SPECIFIC: Final = frozenset({"overloaded", "rate_limit", "context_length"})


def _body_category(fields: ErrorFields) -> str | None:
    """The category an error body states: a context-length or tools-refused message (both
    sent as a plain ``invalid_request_error``) or a specific error type; None lets the status decide."""
    category = message_category(fields["message"])
    if category in ("context_length", "tools_unsupported"):
        return category
    return _TYPE_CATEGORIES.get(fields["type"] or "")


def classify_error(status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
    error, parsed = classify_http(status, headers, body)
    if parsed is None or error.category == "html_response":
        return error
    category = _body_category(error_fields(parsed))
    if category and category != error.category:
        return ProviderError(category, error.message, status=status, retry_after=error.retry_after)
    return error


def _inband(payload: Any) -> tuple[str, str]:
    fields = error_fields(payload)
    category = _body_category(fields)
    label = f"{fields['type']}: " if fields["type"] else ""
    message = label + (fields["message"] or "error event without a message")
    return (category if category in _INBAND_SPECIFIC else "stream_error"), message


# -- finish reasons ------------------------------------------------------------------------------

FINISH_REASONS: Final[dict[str, FinishReason]] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
}


def map_finish_reason(raw: str) -> FinishReason:
    """Canonical finish reason of a raw ``stop_reason``; unknown reasons count as ``stop``."""
    return FINISH_REASONS.get(raw, "stop")


# -- requests ------------------------------------------------------------------------------------


def build_request(model: str, request: ModelRequest, *, provider: str | None = None) -> JSONObject:
    """System apart, ``max_tokens`` always, tool inputs as objects, every tool result of a turn
    in one user message (consecutive same-role turns are merged: the API wants alternation)."""
    system: list[str] = []
    messages: list[JSONObject] = []

    def add(role: str, blocks: list[JSONObject]) -> None:
        if not blocks:
            return  # the API refuses empty content
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(blocks)
        else:
            messages.append({"role": role, "content": blocks})

    for m in request.messages:
        if m.kind == "system":
            system.append(m.content)
        elif m.kind == "user":
            add("user", [{"type": "text", "text": m.content}])
        elif m.kind == "assistant":
            blocks: list[JSONObject] = [{"type": "text", "text": m.text}] if m.text else []
            blocks += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in m.tool_calls]
            add("assistant", blocks)
        elif m.kind == "tool_result":
            result: JSONObject = {"type": "tool_result", "tool_use_id": m.call_id, "content": m.content}
            if m.is_error:
                result["is_error"] = True
            add("user", [result])
        else:
            assert_never(m)
    body: JSONObject = {"model": model, "max_tokens": request.max_tokens, "messages": messages}
    if system:
        body["system"] = "\n\n".join(system)
    if request.tools:
        body["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
        ]
        body["tool_choice"] = {"type": "auto"}
    if request.stream:
        body["stream"] = True
    return body


# -- non-streaming -----------------------------------------------------------------------------------


@never_raises
def parse_response(body: Any) -> ModelResponse:
    """A non-streaming body -> the final message. Never raises: a message of an unexpected shape
    (a string where an object belongs...) is ``invalid_json``, as an event is in the stream decoder."""
    acc = Accumulator()
    if not isinstance(body, Mapping):
        acc.fail("invalid_json", f"a message must be a JSON object, got {type(body).__name__}")
        return acc.response()
    if body.get("type") == "error" or body.get("error"):
        category, message = _inband(body)
        acc.fail("server_error" if category == "stream_error" else category, message)
        return acc.response()
    acc.model = body.get("model") or None
    acc.response_id = body.get("id") or None
    usage = body.get("usage")
    if isinstance(usage, Mapping):
        acc.usage(usage.get("input_tokens"), usage.get("output_tokens"))
    content = body.get("content")
    if not isinstance(content, list):
        acc.fail("empty_response", "the message has no content list")
        return acc.response()
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, Mapping) else None
        if kind == "text":
            acc.text(block.get("text") or "")
        elif kind == "thinking":
            acc.reasoning(block.get("thinking") or "")
        elif kind == "tool_use":
            start = block.get("input")
            if start is None or isinstance(start, dict):
                acc.tool_call(index, id=block.get("id"), name=block.get("name"), mode="start_input", start_input=start)
            else:
                # ``input`` must be an object; anything else (a JSON string, a list) is judged as
                # argument text, so a broken one reaches the agent as a malformed call, not as {}.
                acc.tool_call(index, id=block.get("id"), name=block.get("name"), mode="append")
                acc.tool_args(index, start if isinstance(start, str) else json.dumps(start))
            acc.tool_done(index)
    raw = body.get("stop_reason")
    if isinstance(raw, str) and raw:
        acc.finish(map_finish_reason(raw), raw)
    else:
        acc.finish("tool_calls" if acc.has_tool_calls else "stop", None)
    return acc.response()


# -- streaming ---------------------------------------------------------------------------------------


class MessagesStreamDecoder:
    """Messages stream events -> canonical events. See the module docstring for the quirks."""

    __slots__ = ("_acc", "_tools")

    def __init__(self) -> None:
        self._acc = Accumulator()
        self._tools: set[int] = set()  # indices of tool_use blocks (server tools are not ours)

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        acc = self._acc
        data = event.data
        if acc.error is not None or not data:
            return []
        try:
            payload = json.loads(data)
        except ValueError:
            return acc.fail("invalid_json", f"stream event is not JSON: {data[:200]}")
        try:
            kind = payload.get("type") or event.event
            if kind == "content_block_delta":
                return self._delta(payload["index"], payload["delta"])
            if kind == "ping":
                return []
            if kind == "content_block_start":
                return self._block_start(payload["index"], payload["content_block"])
            if kind == "content_block_stop":
                index = payload["index"]
                return acc.tool_done(index) if index in self._tools else []
            if kind == "message_start":
                message = payload["message"]
                acc.model = message.get("model") or None
                acc.response_id = message.get("id") or None
                usage = message.get("usage") or {}
                acc.usage(usage.get("input_tokens"), usage.get("output_tokens"))
                return []
            if kind == "message_delta":
                usage = payload.get("usage") or {}
                acc.usage(usage.get("input_tokens"), usage.get("output_tokens"))
                raw = (payload.get("delta") or {}).get("stop_reason")
                if isinstance(raw, str) and raw:
                    acc.finish(map_finish_reason(raw), raw)
                return []
            if kind == "message_stop":
                if acc.finish_reason is None:  # a complete message whose message_delta had no stop_reason
                    acc.finish("tool_calls" if acc.has_tool_calls else "stop", None)
                return acc.close_tool_calls() + acc.finished_event()
            if kind == "error" or event.event == "error":
                return acc.fail(*_inband(payload))
        except SHAPE_ERRORS as exc:
            return acc.fail("invalid_json", f"unexpected event shape ({exc}): {data[:200]}")
        return []  # event types added after this was written carry nothing we use

    def _block_start(self, index: int, block: Mapping[str, Any]) -> list[StreamEvent]:
        kind = block["type"]
        if kind == "text":
            return self._acc.text(block.get("text") or "")
        if kind == "thinking":
            return self._acc.reasoning(block.get("thinking") or "")
        if kind == "tool_use":
            self._tools.add(index)
            start = block.get("input")
            return self._acc.tool_call(
                index,
                id=block.get("id"),
                name=block.get("name"),
                mode="start_input",
                start_input=start if isinstance(start, dict) else None,
            )
        return []

    def _delta(self, index: int, delta: Mapping[str, Any]) -> list[StreamEvent]:
        kind = delta["type"]
        if kind == "text_delta":
            return self._acc.text(delta["text"])
        if kind == "input_json_delta":
            return self._acc.tool_args(index, delta["partial_json"]) if index in self._tools else []
        if kind == "thinking_delta":
            return self._acc.reasoning(delta["thinking"])
        return []  # signature_delta, citations_delta

    def finish(self) -> ModelResponse:
        return self._acc.end_of_stream("message_delta gave a stop_reason")


class _AnthropicMessages:
    name: Final = "anthropic_messages"
    finish_reasons: Final = FINISH_REASONS

    build_request = staticmethod(build_request)
    parse_response = staticmethod(parse_response)
    classify_error = staticmethod(classify_error)
    map_finish_reason = staticmethod(map_finish_reason)

    @staticmethod
    def stream_decoder() -> MessagesStreamDecoder:
        return MessagesStreamDecoder()


PROTOCOL: Final = _AnthropicMessages()
