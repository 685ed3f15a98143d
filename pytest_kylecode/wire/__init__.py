"""Wire knowledge of the emulator: one module per protocol, the same API in each.

Every module (``openai_chat``, ``anthropic_messages``, ``openai_responses``) exports:

- ``PROTOCOL`` and ``FINISH`` (canonical finish -> the protocol's own);
- ``validate(body) -> str | None`` — why a request body is not valid for this endpoint;
- ``render(plan, body, timing) -> WireResponse`` — the response to a request, streamed or not;
- ``error_response(kind, *, provider, model, seed, timing) -> WireResponse`` — the
  HTTP answer for an HTTP fault kind (``http_400`` … ``http_529``, ``html_200``, ``html_502``,
  ``tools_unsupported``, ``context_length``, ``invalid_json``, ``empty_response``);
- ``stream_error_event(provider, *, model, response_id, sequence_number) -> bytes`` — the in-band
  error of that provider, and whatever follows it before the stream ends;
- ``is_finish_event(event) -> bool`` — the event carrying the finish (cut before it = truncated);
- ``malformed_event() -> bytes`` — an event whose JSON breaks off.

``WireResponse.chunks`` hold one SSE event per chunk for streams (see ``common``).
"""

from __future__ import annotations

from typing import Protocol

from agent_runtime.messages import JSONObject
from agent_runtime.providers import ProtocolName
from pytest_kylecode.wire import anthropic_messages, openai_chat, openai_responses
from pytest_kylecode.wire.common import DEFAULT_TIMING, IMMEDIATE, Plan, Timing, WireResponse


class WireModule(Protocol):
    """The skeleton above, as the type checker sees it: each wire module (the module object
    itself) is one. ``FINISH`` is left out: its values differ by protocol and only the module
    itself reads them."""

    @property
    def PROTOCOL(self) -> ProtocolName: ...

    def validate(self, body: JSONObject) -> str | None: ...

    def render(self, plan: Plan, body: JSONObject, timing: Timing = ...) -> WireResponse: ...

    def error_response(
        self,
        kind: str,
        *,
        provider: str = ...,
        model: str = ...,
        seed: str = ...,
        message: str | None = ...,
        timing: Timing = ...,
    ) -> WireResponse: ...

    def stream_error_event(
        self, provider: str = ..., *, model: str = ..., response_id: str = ..., sequence_number: int = ...
    ) -> bytes: ...

    def is_finish_event(self, event: bytes) -> bool: ...

    def malformed_event(self) -> bytes: ...


MODULES: dict[str, WireModule] = {
    "openai_chat": openai_chat,
    "anthropic_messages": anthropic_messages,
    "openai_responses": openai_responses,
}


def for_protocol(protocol: str) -> WireModule:
    """The wire module of ``protocol`` (``agent_runtime.providers.PROTOCOLS``)."""
    try:
        return MODULES[protocol]
    except KeyError:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(MODULES)}") from None


def for_provider(provider: str) -> WireModule:
    """The wire module of a provider name (``openrouter`` -> ``openai_chat``), for provider-specific
    shapes such as ``for_provider(p).stream_error_event(p)``."""
    from agent_runtime.providers import PROVIDERS

    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    return MODULES[PROVIDERS[provider].protocol]


__all__ = [
    "DEFAULT_TIMING",
    "IMMEDIATE",
    "MODULES",
    "Plan",
    "Timing",
    "WireModule",
    "WireResponse",
    "anthropic_messages",
    "for_protocol",
    "for_provider",
    "openai_chat",
    "openai_responses",
]
