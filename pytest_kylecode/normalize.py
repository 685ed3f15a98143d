"""What one recorded interaction says once normalized (``kylecode inspect``).

The record::

    {index, protocol, status, streaming, text, reasoning,
     tool_calls: [{id, name, arguments}], finish_reason, raw_finish_reason,
     usage: {input_tokens, output_tokens}, error: null | {category, message}}

The body goes through ``agent_runtime.wire.client.BodyDecoder`` — the same protocol
modules and decoding path as a live call — so what ``inspect`` shows is what the runtime
would have made of those bytes. The protocol is detected from the URL path suffix
(query and fragment ignored: ``/v1/messages?beta=true``, ``.../chat/completions#stream``);
an interaction that is not a model call (``GET /models``) has ``protocol: null`` and no
content. Streaming is the request's ``stream`` flag, or an event-stream response.
"""

from __future__ import annotations

from agent_runtime.messages import JSONObject, ModelResponse
from agent_runtime.wire.client import BodyDecoder
from agent_runtime.wire.protocols import get_protocol
from pytest_kylecode.cassettes.format import Interaction
from pytest_kylecode.wire.requests import protocol_for_path

__all__ = ["normalize_interaction"]


def _is_streaming(interaction: Interaction) -> bool:
    request_json = interaction.request_json
    if isinstance(request_json, dict) and request_json.get("stream") is True:
        return True
    return "event-stream" in interaction.response_headers.get("content-type", "").lower()


def normalize_interaction(interaction: Interaction, index: int) -> JSONObject:
    """The inspect record of ``interaction``, the ``index``-th of its cassette (never raises for
    bad provider bytes)."""
    protocol = protocol_for_path(interaction.uri)
    streaming = _is_streaming(interaction)
    response: ModelResponse | None = None
    error = None
    if protocol is not None:
        decoder = BodyDecoder(
            get_protocol(protocol), interaction.status, interaction.response_headers, streaming=streaming
        )
        decoder.feed(interaction.body)
        response, provider_error = decoder.finish()
        if provider_error is not None:
            error = {"category": provider_error.category, "message": provider_error.message}
    response = response or ModelResponse()
    return {
        "index": index,
        "protocol": protocol,
        "status": interaction.status,
        "streaming": streaming,
        "text": response.text,
        "reasoning": response.reasoning,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in response.tool_calls],
        "finish_reason": response.finish_reason,
        "raw_finish_reason": response.raw_finish_reason,
        "usage": {"input_tokens": response.usage.input_tokens, "output_tokens": response.usage.output_tokens},
        "error": error,
    }
