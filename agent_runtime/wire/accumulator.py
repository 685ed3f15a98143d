"""The one delta accumulator: provider deltas in, canonical stream events and a final message out.

Every protocol decoder (and every JSON-response parser, which feeds a whole message as
one delta) translates its wire shapes into calls on an ``Accumulator``; the rules that
make real traffic come out right live here once:

- **Text and reasoning** are appended; empty deltas emit nothing.
- **Tool calls** are keyed by whatever the protocol uses (chat ``index``, Anthropic block
  index, Responses ``output_index``) and numbered 0, 1, ... in order of appearance.
  ``id`` and ``name`` are *set once*: the first non-empty value wins, later repeats are
  ignored (OpenRouter and Z.ai repeat them in every delta; ``+=`` would give
  ``call_1call_1``). A missing or empty id stays ``""`` (the agent loop synthesizes a
  stable one); an integer id becomes ``str(id)``. A different non-empty id under a key
  that already has one starts a new call (providers that reuse index 0).
- **Argument fragments** are appended, except a *re-send*: when the buffer already parses
  as a JSON object and the new fragment parses alone as an object, the fragment repeats
  what we have and is dropped (the chat analogue of the Kimi duplication).
- **Final arguments**, ``ArgsMode`` per call:
  ``"append"`` (chat, Responses): the buffer (or the protocol's authoritative final text,
  Responses ``arguments.done``) must parse; if it does not, the last fragment that parsed
  alone as an object *and opened the buffer* is used (the full arguments sent up front,
  then broken by a partial repeat); else the call is malformed. A complete object that
  arrived mid-buffer is a nested value, never a fallback.
  ``"start_input"`` (Anthropic, Kimi): the ``content_block_start`` input plus a delta buffer
  that starts empty; a non-blank buffer wins, a blank buffer gives the start input, an
  unparseable buffer falls back to the start input — unless that is empty, in which case
  the call is malformed (an ``{}`` start plus broken fragments is a malformed call, not a
  call without arguments).
  Blank arguments mean ``{}``. Arguments that are not a JSON object, or not JSON, give
  ``ToolCall(arguments={}, raw_arguments=<text>, parse_error=<why>)``, never an exception.
- **Finish**: the latest non-null reason wins (a later ``finish_reason: null`` never
  erases it); after ``fail`` it stays ``"error"``.
- **Usage**: counts replace earlier ones when given (cumulative totals win: Anthropic's
  ``message_delta``, the chat usage chunk after the finish chunk).
- **Errors**: the first ``fail`` wins; it sets ``finish_reason="error"`` and keeps the raw
  finish reason the provider sent, if any.
- **Types**: a non-empty text, reasoning or argument value that is not a string breaks the
  protocol: it is ``fail("invalid_json")`` at once, never an exception when the message is built.
"""

from __future__ import annotations

import json
from collections.abc import Hashable
from typing import Literal, TypeAlias

from agent_runtime.messages import (
    ErrorInfo,
    Finished,
    FinishReason,
    JSONObject,
    ModelResponse,
    ReasoningDelta,
    StreamEvent,
    StreamFailed,
    TextDelta,
    ToolCall,
    ToolCallArgsDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
)

__all__ = ["Accumulator", "ArgsMode", "parse_arguments", "repeated_object"]

ArgsMode: TypeAlias = Literal["append", "start_input"]


def _whole_object(text: str) -> JSONObject | None:
    """``text`` as a JSON object if it is exactly one; cheap prefilter before json.loads."""
    stripped = text.strip()
    if stripped[:1] != "{" or stripped[-1:] != "}":
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_arguments(text: str) -> tuple[JSONObject, str | None]:
    """Arguments text -> (object, None) or ({}, why). Blank text is ``{}`` (a call without arguments)."""
    if not text.strip():
        return {}, None
    try:
        value = json.loads(text)
    except ValueError as exc:
        return {}, f"arguments are not valid JSON: {exc}"
    if not isinstance(value, dict):
        return {}, f"arguments are a JSON {type(value).__name__}, not an object"
    return value, None


_DECODER = json.JSONDecoder()


def repeated_object(text: str) -> JSONObject | None:
    """The object when ``text`` is one JSON object sent two or more times over (``{..}{..}``), else None.

    That is what a provider's re-send of complete arguments looks like once concatenated
    (streamed by OpenAI-compatible gateways, or whole in a non-streamed message); different
    objects in a row stay malformed: which one the model meant is not ours to guess.
    """
    objects: list[object] = []
    position, end = 0, len(text)
    while position < end:
        while position < end and text[position].isspace():
            position += 1
        if position == end:
            break
        try:
            value, position = _DECODER.raw_decode(text, position)
        except ValueError:
            return None
        objects.append(value)
    first = objects[0] if objects else None
    if len(objects) >= 2 and isinstance(first, dict) and all(o == first for o in objects[1:]):
        return first
    return None


class _Call:
    __slots__ = ("done", "final", "id", "index", "last_whole", "mode", "name", "parts", "start_input")

    def __init__(self, index: int, mode: ArgsMode, start_input: JSONObject | None) -> None:
        self.index = index
        self.id = ""
        self.name = ""
        self.mode = mode
        self.parts: list[str] = []
        self.last_whole: str | None = None  # complete arguments that opened the buffer
        self.start_input = start_input
        self.final: str | None = None  # authoritative final arguments text, when the protocol sends one
        self.done = False

    def tool_call(self) -> ToolCall:
        if self.mode == "start_input":
            return self._from_start_input()
        text = self.final if self.final is not None else "".join(self.parts)
        arguments, error = parse_arguments(text)
        if error is not None and self.final is None and self.last_whole is not None:
            # The buffer is broken but one fragment was a complete object on its own:
            # a provider that sent the full arguments and then garbage or a partial repeat.
            return ToolCall(self.id, self.name, json.loads(self.last_whole), self.last_whole)
        if error is not None and (again := repeated_object(text)) is not None:
            return ToolCall(self.id, self.name, again, text)
        return ToolCall(self.id, self.name, arguments, text, error)

    def _from_start_input(self) -> ToolCall:
        start = self.start_input or {}
        buffer = "".join(self.parts)
        if not buffer.strip():
            return ToolCall(self.id, self.name, dict(start), json.dumps(start, ensure_ascii=False))
        arguments, error = parse_arguments(buffer)
        if error is None:
            return ToolCall(self.id, self.name, arguments, buffer)
        if start:  # the Kimi pattern: full start input, deltas repeating it into invalid JSON
            return ToolCall(self.id, self.name, dict(start), json.dumps(start, ensure_ascii=False))
        return ToolCall(self.id, self.name, {}, buffer, error)


class Accumulator:
    """Accumulates one model response. Methods return the canonical events they caused."""

    __slots__ = (
        "_calls",
        "_input_tokens",
        "_order",
        "_output_tokens",
        "_reasoning",
        "_text",
        "error",
        "finish_reason",
        "model",
        "raw_finish_reason",
        "response_id",
    )

    def __init__(self) -> None:
        self._text: list[str] = []
        self._reasoning: list[str] = []
        self._calls: dict[Hashable, _Call] = {}
        self._order: list[_Call] = []
        self.finish_reason: FinishReason | None = None
        self.raw_finish_reason: str | None = None
        self._input_tokens = 0
        self._output_tokens = 0
        self.error: ErrorInfo | None = None
        self.model: str | None = None
        self.response_id: str | None = None

    # -- content ------------------------------------------------------------------------------

    # Deltas are typed ``object``: they come straight from parsed JSON, and a non-string one is
    # the provider's protocol error to report, not ours to crash on.

    def text(self, delta: object) -> list[StreamEvent]:
        if not delta:
            return []
        if not isinstance(delta, str):
            return self._not_text("text delta", delta)
        self._text.append(delta)
        return [TextDelta(delta)]

    def reasoning(self, delta: object) -> list[StreamEvent]:
        if not delta:
            return []
        if not isinstance(delta, str):
            return self._not_text("reasoning delta", delta)
        self._reasoning.append(delta)
        return [ReasoningDelta(delta)]

    @property
    def has_reasoning(self) -> bool:
        return bool(self._reasoning)

    # -- tool calls ---------------------------------------------------------------------------

    def tool_call(
        self,
        key: Hashable,
        *,
        id: object = None,
        name: object = None,
        mode: ArgsMode = "append",
        start_input: JSONObject | None = None,
    ) -> list[StreamEvent]:
        """Open the call under ``key``, or update it (id and name are set once)."""
        new_id = _id_text(id)
        call = self._calls.get(key)
        if call is not None and new_id and call.id and new_id != call.id:
            call = None  # same key, another call: the provider reuses its index
        events: list[StreamEvent] = []
        if call is None:
            call = _Call(len(self._order), mode, start_input)
            call.id = new_id
            call.name = name if isinstance(name, str) else ""
            self._calls[key] = call
            self._order.append(call)
            events.append(ToolCallStarted(call.index, call.id, call.name))
            return events
        if new_id and not call.id:
            call.id = new_id
        if isinstance(name, str) and name and not call.name:
            call.name = name
        if start_input and not call.start_input:
            call.start_input = start_input
        return events

    def tool_args(self, key: Hashable, fragment: object) -> list[StreamEvent]:
        """Append an argument fragment to the call under ``key`` (opened if unknown)."""
        events = self.tool_call(key) if key not in self._calls else []
        if not fragment:
            return events
        if not isinstance(fragment, str):
            return events + self._not_text("tool-call argument fragment", fragment)
        call = self._calls[key]
        if _whole_object(fragment) is not None:
            buffer = "".join(call.parts)
            if _whole_object(buffer) is not None:
                return events  # a re-send of arguments we already hold
            if not buffer.strip():
                # Complete arguments opening the buffer: the fallback if later fragments break
                # it. A complete object in the middle (a nested value) is no such fallback.
                call.last_whole = fragment
        call.parts.append(fragment)
        events.append(ToolCallArgsDelta(call.index, fragment))
        return events

    def tool_done(self, key: Hashable, arguments: object = None) -> list[StreamEvent]:
        """The call under ``key`` is complete; ``arguments`` is the protocol's authoritative final text, if any."""
        if arguments is not None and not isinstance(arguments, str):
            return self._not_text("tool-call arguments", arguments)
        call = self._calls.get(key)
        if call is None:
            if arguments is None:
                return []
            self.tool_call(key)
            call = self._calls[key]
        if arguments is not None:
            call.final = arguments
        if call.done:
            return []
        call.done = True
        return [ToolCallDone(call.index, call.tool_call())]

    def close_tool_calls(self) -> list[StreamEvent]:
        """Mark every open call done (chat: the finish chunk ends all calls)."""
        events: list[StreamEvent] = []
        for call in self._order:
            if not call.done:
                call.done = True
                events.append(ToolCallDone(call.index, call.tool_call()))
        return events

    @property
    def has_tool_calls(self) -> bool:
        return bool(self._order)

    # -- finish, usage, errors ---------------------------------------------------------------

    def finish(self, reason: FinishReason, raw: str | None) -> None:
        """Record the finish reason (the latest wins; an error finish is kept)."""
        self.raw_finish_reason = raw
        if self.error is None:
            self.finish_reason = reason

    def usage(self, input_tokens: object = None, output_tokens: object = None) -> None:
        """Replace the counts that are given (cumulative totals win)."""
        if isinstance(input_tokens, int) and not isinstance(input_tokens, bool):
            self._input_tokens = input_tokens
        if isinstance(output_tokens, int) and not isinstance(output_tokens, bool):
            self._output_tokens = output_tokens

    def fail(self, category: str, message: str) -> list[StreamEvent]:
        """An error ends the response; the first one is kept."""
        if self.error is not None:
            return []
        self.error = ErrorInfo(category, message)
        self.finish_reason = "error"
        return [StreamFailed(self.error)]

    def _not_text(self, what: str, value: object) -> list[StreamEvent]:
        return self.fail("invalid_json", f"a {what} must be a string, got {type(value).__name__}")

    def finished_event(self) -> list[StreamEvent]:
        """The ``Finished`` event for a stream whose terminal event arrived (nothing after an error)."""
        if self.error is not None or self.finish_reason is None:
            return []
        return [Finished(self.finish_reason, self.raw_finish_reason, Usage(self._input_tokens, self._output_tokens))]

    def end_of_stream(self, missing: str) -> ModelResponse:
        """The final message of a stream that just ended. Without a finish (and no error) the
        stream was cut: ``stream_truncated``, saying which terminal event was ``missing``."""
        if self.error is None and self.finish_reason is None:
            self.fail("stream_truncated", f"the stream ended before {missing}")
        self.close_tool_calls()
        return self.response()

    def response(self) -> ModelResponse:
        return ModelResponse(
            text="".join(self._text),
            reasoning="".join(self._reasoning),
            tool_calls=_without_resends([call.tool_call() for call in self._order]),
            finish_reason=self.finish_reason,
            raw_finish_reason=self.raw_finish_reason,
            usage=Usage(self._input_tokens, self._output_tokens),
            error=self.error,
            model=self.model,
            response_id=self.response_id,
        )


def _without_resends(calls: list[ToolCall]) -> list[ToolCall]:
    """Drop a call that repeats an earlier one exactly (same id, name and arguments): the provider
    sent one call twice, and executing it twice would run its side effects twice. Calls without
    an id are kept: two identical id-less calls may well be two calls."""
    if len(calls) < 2:
        return calls
    seen: set[tuple[str, str, str]] = set()
    kept = []
    for call in calls:
        if call.id:
            key = (
                call.id,
                call.name,
                json.dumps(call.arguments, sort_keys=True) if call.parse_error is None else call.raw_arguments,
            )
            if key in seen:
                continue
            seen.add(key)
        kept.append(call)
    return kept


def _id_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""
