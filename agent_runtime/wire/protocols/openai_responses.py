"""OpenAI Responses API (``POST …/responses``), stateless: openai-responses.

Same skeleton as the other protocol modules. Quirks handled here:

- Stateless replay: no ``previous_response_id``; the whole conversation goes as ``input``
  items (``function_call`` / ``function_call_output`` share the ``call_id``), ``store: false``.
- Events are typed by the payload's ``type``: OpenRouter's Responses stream has no ``event:``
  lines, a leading ``: `` comment and a ``[DONE]`` sentinel, all tolerated.
- Tool calls are keyed by ``output_index``; ``call_id`` and ``name`` come only with the item
  events. ``function_call_arguments.done`` / ``output_item.done`` carry the authoritative
  arguments, which replace the delta buffer (a repeated delta cannot corrupt them).
- Text comes from ``output_text.delta``; a message item that arrives complete in
  ``output_item.done`` without deltas still counts. Reasoning comes from summary text
  deltas (parts separated by a blank line) and ``reasoning_text`` deltas.
- There is no finish reason on the wire; it is derived from the terminal response
  (``derive_finish``): ``failed`` -> error, ``incomplete`` with ``max_output_tokens`` ->
  length and ``content_filter`` -> content_filter, a function call -> tool_calls, else stop.
  The raw finish reason kept is the status (or the incomplete reason).
- Usage and status arrive only with ``response.completed`` / ``.incomplete`` / ``.failed``;
  a stream without one of them is ``stream_truncated``.
- In-band errors: an ``error`` event (nested ``{"error":{...}}`` as sent, or flat as the SDK
  types it) and ``response.failed``; the OpenAI error codes decide the category
  (``insufficient_quota`` -> rate_limit, ``context_length_exceeded`` -> context_length), else
  ``stream_error``. The first error wins.
- HTTP error bodies are the OpenAI family's: ``openai_chat.classify_error``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, assert_never

from agent_runtime.messages import FinishReason, JSONObject, ModelRequest, ModelResponse, StreamEvent
from agent_runtime.wire.accumulator import Accumulator
from agent_runtime.wire.classify import SHAPE_ERRORS, never_raises
from agent_runtime.wire.protocols.openai_chat import classify_error, inband_error
from agent_runtime.wire.sse import SSEEvent

__all__ = ["FINISH_REASONS", "PROTOCOL", "ResponsesStreamDecoder", "derive_finish"]

FINISH_REASONS: Final[dict[str, FinishReason]] = {
    "completed": "stop",
    "max_output_tokens": "length",
    "content_filter": "content_filter",
    "failed": "error",
}


def derive_finish(response: Mapping[str, Any], has_tool_calls: bool) -> tuple[FinishReason, str | None]:
    """(canonical, raw) finish of a response object, which has no finish reason of its own."""
    status = response.get("status")
    if status == "failed":
        return "error", "failed"
    if status == "incomplete":
        reason = (response.get("incomplete_details") or {}).get("reason")
        return FINISH_REASONS.get(reason or "", "length"), reason or "incomplete"
    if has_tool_calls:
        return "tool_calls", status
    return "stop", status


# -- requests ------------------------------------------------------------------------------------


def build_request(model: str, request: ModelRequest, *, provider: str | None = None) -> JSONObject:
    instructions: list[str] = []
    items: list[JSONObject] = []
    for m in request.messages:
        if m.kind == "system":
            instructions.append(m.content)
        elif m.kind == "user":
            items.append({"role": "user", "content": m.content})
        elif m.kind == "assistant":
            if m.text:
                items.append({"role": "assistant", "content": m.text})
            items += [
                {
                    "type": "function_call",
                    "call_id": c.id,
                    "name": c.name,
                    "arguments": c.raw_arguments or json.dumps(c.arguments),
                }
                for c in m.tool_calls
            ]
        elif m.kind == "tool_result":
            items.append({"type": "function_call_output", "call_id": m.call_id, "output": m.content})
        else:
            assert_never(m)
    body: JSONObject = {"model": model, "input": items, "max_output_tokens": request.max_tokens, "store": False}
    if instructions:
        body["instructions"] = "\n\n".join(instructions)
    if request.tools:
        body["tools"] = [
            {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
            for t in request.tools
        ]
        body["tool_choice"] = "auto"
    if request.json_mode:
        body["text"] = {"format": {"type": "json_object"}}
    if request.stream:
        body["stream"] = True
    return body


# -- shared by both paths ------------------------------------------------------------------------------


def _item_content(acc: Accumulator, item: Mapping[str, Any]) -> list[StreamEvent]:
    """Text or reasoning of a complete ``message`` / ``reasoning`` item."""
    events: list[StreamEvent] = []
    kind = item.get("type")
    if kind == "message":
        for part in item.get("content") or ():
            if part.get("type") == "output_text":
                events += acc.text(part.get("text") or "")
    elif kind == "reasoning":
        for part in item.get("summary") or ():
            if acc.has_reasoning:
                events += acc.reasoning("\n\n")
            events += acc.reasoning(part.get("text") or "")
        for part in item.get("content") or ():
            events += acc.reasoning(part.get("text") or "")
    return events


def _function_call(acc: Accumulator, key: int, item: Mapping[str, Any]) -> list[StreamEvent]:
    events = acc.tool_call(key, id=item.get("call_id"), name=item.get("name"))
    arguments = item.get("arguments")
    return events + acc.tool_done(key, arguments if isinstance(arguments, str) else None)


def _terminal(acc: Accumulator, response: Mapping[str, Any]) -> list[StreamEvent]:
    """Finish, usage and failure of a terminal response object."""
    usage = response.get("usage")
    if isinstance(usage, Mapping):
        acc.usage(usage.get("input_tokens"), usage.get("output_tokens"))
    acc.model = response.get("model") or acc.model
    acc.response_id = response.get("id") or acc.response_id
    reason, raw = derive_finish(response, acc.has_tool_calls)
    acc.finish(reason, raw)
    if reason == "error":
        return (
            acc.fail(*inband_error(response, "stream_error"))
            if response.get("error")
            else acc.fail("stream_error", "the response failed without an error object")
        )
    return []


# -- non-streaming -----------------------------------------------------------------------------------


@never_raises
def parse_response(body: Any) -> ModelResponse:
    """A non-streaming body -> the final message. Never raises: a response of an unexpected shape
    (a string where an object belongs...) is ``invalid_json``, as an event is in the stream decoder."""
    acc = Accumulator()
    if not isinstance(body, Mapping):
        acc.fail("invalid_json", f"a response must be a JSON object, got {type(body).__name__}")
        return acc.response()
    if body.get("error") and body.get("status") != "failed":
        acc.fail(*inband_error(body, "server_error"))
        return acc.response()
    output = body.get("output")
    if not isinstance(output, list):
        acc.fail("empty_response", "the response has no output list")
        return acc.response()
    for index, item in enumerate(output):
        if isinstance(item, Mapping):
            if item.get("type") == "function_call":
                _function_call(acc, index, item)
            else:
                _item_content(acc, item)
    _terminal(acc, body)
    return acc.response()


# -- streaming ---------------------------------------------------------------------------------------


class ResponsesStreamDecoder:
    """Responses stream events -> canonical events. See the module docstring for the quirks."""

    __slots__ = ("_acc", "_ended", "_seen_items", "_text_items")

    def __init__(self) -> None:
        self._acc = Accumulator()
        self._ended = False
        self._seen_items: set[int] = set()
        self._text_items: set[int] = set()  # message items that streamed text deltas

    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        acc = self._acc
        data = event.data
        if acc.error is not None or self._ended or not data or data.startswith("[DONE]"):
            return []
        try:
            payload = json.loads(data)
        except ValueError:
            return acc.fail("invalid_json", f"stream event is not JSON: {data[:200]}")
        try:
            return self._event(payload.get("type") or event.event, payload)
        except SHAPE_ERRORS as exc:
            return acc.fail("invalid_json", f"unexpected event shape ({exc}): {data[:200]}")

    def _event(self, kind: str | None, p: Mapping[str, Any]) -> list[StreamEvent]:
        acc = self._acc
        if kind == "response.output_text.delta":
            self._text_items.add(p["output_index"])
            return acc.text(p["delta"])
        if kind == "response.function_call_arguments.delta":
            return acc.tool_args(p["output_index"], p["delta"])
        if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            return acc.reasoning(p["delta"])
        if kind == "response.reasoning_summary_part.added":
            return acc.reasoning("\n\n") if acc.has_reasoning else []
        if kind == "response.output_item.added":
            index, item = p["output_index"], p["item"]
            self._seen_items.add(index)
            if item.get("type") == "function_call":
                events = acc.tool_call(index, id=item.get("call_id"), name=item.get("name"))
                return events + acc.tool_args(index, item.get("arguments") or "")
            return []
        if kind == "response.function_call_arguments.done":
            return acc.tool_done(p["output_index"], p.get("arguments"))
        if kind == "response.output_item.done":
            index, item = p["output_index"], p["item"]
            self._seen_items.add(index)
            if item.get("type") == "function_call":
                return _function_call(acc, index, item)
            if item.get("type") == "message" and index not in self._text_items:
                return _item_content(acc, item)
            return []
        if kind in ("response.created", "response.in_progress", "response.queued"):
            response = p.get("response") or {}
            acc.model = response.get("model") or acc.model
            acc.response_id = response.get("id") or acc.response_id
            return []
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            self._ended = True
            response = p["response"]
            events = self._unseen_items(response)
            events += _terminal(acc, response)
            return events + acc.close_tool_calls() + acc.finished_event()
        if kind == "error":
            return acc.fail(*inband_error(p, "stream_error"))
        return []  # part/content bookkeeping, annotations, event types added later

    def _unseen_items(self, response: Mapping[str, Any]) -> list[StreamEvent]:
        """Items only the terminal response holds (a server that skipped the item events)."""
        events: list[StreamEvent] = []
        for index, item in enumerate(response.get("output") or ()):
            if index in self._seen_items or not isinstance(item, Mapping):
                continue
            if item.get("type") == "function_call":
                events += _function_call(self._acc, index, item)
            else:
                events += _item_content(self._acc, item)
        return events

    def finish(self) -> ModelResponse:
        return self._acc.end_of_stream("response.completed")


class _OpenAIResponses:
    name: Final = "openai_responses"
    finish_reasons: Final = FINISH_REASONS

    build_request = staticmethod(build_request)
    parse_response = staticmethod(parse_response)
    classify_error = staticmethod(classify_error)

    @staticmethod
    def stream_decoder() -> ResponsesStreamDecoder:
        return ResponsesStreamDecoder()


PROTOCOL: Final = _OpenAIResponses()
