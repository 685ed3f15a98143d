"""The three wire protocols. One module each, same skeleton in each.

A protocol module exposes a ``PROTOCOL`` object satisfying ``WireProtocol``:
request building, JSON-response parsing, stream decoding and error-body
classification. Provider quirks live in the protocol module, never in shared code;
the shared ``accumulator`` turns deltas into canonical events.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, assert_never

if TYPE_CHECKING:
    from agent_runtime.errors import ProviderError
    from agent_runtime.messages import JSONObject, ModelRequest, ModelResponse, StreamEvent
    from agent_runtime.providers import ProtocolName
    from agent_runtime.wire.sse import SSEEvent


class StreamDecoder(Protocol):
    def feed(self, event: SSEEvent) -> list[StreamEvent]:
        """Translate one SSE event into canonical events (possibly none)."""

    def finish(self) -> ModelResponse:
        """The final message at end of stream. A stream that ended without its finish
        event has ``error.category == "stream_truncated"``; an in-band error event gives
        ``finish_reason == "error"`` and a classified ``error``."""


class WireProtocol(Protocol):
    @property
    def name(self) -> ProtocolName: ...

    def build_request(self, model: str, request: ModelRequest, *, provider: str | None = None) -> JSONObject:
        """The JSON body for ``request`` (streaming with usage when ``request.stream``).

        ``provider`` (the provider name, optional) selects per-provider request quirks,
        e.g. ``max_tokens`` vs ``max_completion_tokens`` on Chat Completions."""

    def parse_response(self, body: Any) -> ModelResponse:
        """A non-streaming 200 JSON body (any JSON value: a body of the wrong shape is
        ``invalid_json``, never an exception) -> the final message."""

    def stream_decoder(self) -> StreamDecoder:
        """A fresh decoder for one SSE response."""

    def classify_error(self, status: int, headers: Mapping[str, str], body: bytes) -> ProviderError:
        """An HTTP error response (or a non-JSON 200) -> a classified ProviderError."""


def get_protocol(name: ProtocolName) -> WireProtocol:
    """The protocol object of ``name`` (its module is imported on first use)."""
    if name == "openai_chat":
        from agent_runtime.wire.protocols.openai_chat import PROTOCOL as chat

        return chat
    if name == "anthropic_messages":
        from agent_runtime.wire.protocols.anthropic_messages import PROTOCOL as messages

        return messages
    if name == "openai_responses":
        from agent_runtime.wire.protocols.openai_responses import PROTOCOL as responses

        return responses
    assert_never(name)
