"""Canonical messages, responses and stream events shared by every wire protocol.

Every protocol adapter translates to and from these types; nothing outside
``agent_runtime.wire.protocols`` knows what a provider's JSON looks like.

Conversation:  SystemMessage | UserMessage | AssistantMessage | ToolResult
Response:      ModelResponse (text, reasoning, tool calls, finish, usage, error)
Stream events: TextDelta | ReasoningDelta | ToolCallStarted | ToolCallArgsDelta
               | ToolCallDone | Finished | StreamFailed
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

# One encoder instance: json.dumps with non-default options builds a new encoder per call,
# which is most of the cost of rendering a long conversation in text mode.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def canonical_json(value: object) -> str:
    """The one JSON spelling of tool arguments: in prompts, in call blocks and in the signatures
    the loop guard compares (sorted keys, unicode kept)."""
    return _CANONICAL.encode(value)


JSONObject: TypeAlias = dict[str, Any]
"""A JSON object as ``json`` reads and writes it; its values are open (tool arguments, JSON
Schemas, request bodies, JSON-ready reports)."""

FinishReason: TypeAlias = Literal["stop", "tool_calls", "length", "content_filter", "error"]
ToolMode: TypeAlias = Literal["native", "text"]
TOOL_MODES: Final[tuple[ToolMode, ...]] = ("native", "text")


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.input_tokens + other.input_tokens, self.output_tokens + other.output_tokens)


@dataclass(slots=True)
class ToolCall:
    """One tool call as the model made it.

    ``arguments`` is always a dict; when the model's arguments were not a JSON
    object, ``arguments`` is ``{}`` and ``parse_error`` says why (the loop turns
    that into a ``malformed_tool_call`` error result). ``raw_arguments`` keeps the
    text as received so it can be sent back verbatim and shown in run logs.
    """

    id: str
    name: str
    arguments: JSONObject
    raw_arguments: str = ""
    parse_error: str | None = None


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """A classified provider error: ``category`` is one of ``errors.CATEGORIES``."""

    category: str
    message: str


@dataclass(slots=True)
class ModelResponse:
    """The final message of one model call, whatever the protocol and streaming mode."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: FinishReason | None = None
    raw_finish_reason: str | None = None
    usage: Usage = Usage()
    error: ErrorInfo | None = None
    model: str | None = None
    response_id: str | None = None


# -- conversation -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemMessage:
    content: str
    kind: Literal["system"] = "system"


@dataclass(frozen=True, slots=True)
class UserMessage:
    content: str
    kind: Literal["user"] = "user"


@dataclass(slots=True)
class AssistantMessage:
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str = ""
    kind: Literal["assistant"] = "assistant"


@dataclass(frozen=True, slots=True)
class ToolResult:
    call_id: str
    name: str
    content: str
    is_error: bool = False
    kind: Literal["tool_result"] = "tool_result"


Message: TypeAlias = SystemMessage | UserMessage | AssistantMessage | ToolResult


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as offered to the model: name, description and JSON Schema of its arguments."""

    name: str
    description: str
    parameters: JSONObject


@dataclass(slots=True)
class ModelRequest:
    """What one call asks of a model, before a protocol renders it.

    ``tools`` is ``None`` when tools are not sent natively (text dialect: the
    tool descriptions are already rendered into ``messages``).
    """

    messages: list[Message]
    tools: list[ToolSpec] | None
    stream: bool
    max_tokens: int = 4096
    json_mode: bool = False


# -- stream events -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str
    kind: Literal["reasoning"] = "reasoning"


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    index: int
    id: str
    name: str
    kind: Literal["tool_call_started"] = "tool_call_started"


@dataclass(frozen=True, slots=True)
class ToolCallArgsDelta:
    index: int
    fragment: str
    kind: Literal["tool_call_args"] = "tool_call_args"


@dataclass(frozen=True, slots=True)
class ToolCallDone:
    index: int
    call: ToolCall
    kind: Literal["tool_call_done"] = "tool_call_done"


@dataclass(frozen=True, slots=True)
class Finished:
    finish_reason: FinishReason
    raw_finish_reason: str | None
    usage: Usage
    kind: Literal["finished"] = "finished"


@dataclass(frozen=True, slots=True)
class StreamFailed:
    error: ErrorInfo
    kind: Literal["stream_failed"] = "stream_failed"


StreamEvent: TypeAlias = (
    TextDelta | ReasoningDelta | ToolCallStarted | ToolCallArgsDelta | ToolCallDone | Finished | StreamFailed
)
