"""What a provider request says, read the same way by the emulator, the faults and the metering.

- ``protocol_for_path``: the wire protocol an endpoint path speaks, by its suffix (any base URL:
  ``/v1/chat/completions``, ``/api/v1/chat/completions``, ``/anthropic/v1/messages``...);
- ``json_body``: a request's body as a JSON object, or ``None``;
- ``route_of``: the ``provider/model`` route a request is for;
- ``turn_index``: how many assistant turns the request's conversation already holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final
from urllib.parse import urlsplit

import httpx

from agent_runtime.messages import JSONObject
from agent_runtime.providers import ENDPOINT_SUFFIX, PROTOCOLS, PROVIDERS, ProtocolName
from agent_runtime.wire.client import ROUTE_EXTENSION

__all__ = ["ROUTE_EXTENSION", "json_body", "protocol_for_path", "route_of", "turn_index"]


def protocol_for_path(path: str) -> ProtocolName | None:
    """The protocol served at ``path`` (a URL or its path; query and fragment ignored), or ``None``."""
    path = urlsplit(path).path.rstrip("/")
    return next((protocol for protocol, suffix in ENDPOINT_SUFFIX.items() if path.endswith(suffix)), None)


def json_body(request: httpx.Request) -> JSONObject | None:
    """The request body as a JSON object; ``None`` when it is empty, not JSON, or not an object."""
    try:
        body = json.loads(request.read() or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def route_of(request: httpx.Request, body: JSONObject | None) -> str | None:
    """The route a request is for: named by the runtime (the ``kylecode.route`` extension), else
    inferred from the provider endpoint the URL is and the body's ``model``."""
    named = request.extensions.get(ROUTE_EXTENSION)
    if named:
        return str(named)
    model = (body or {}).get("model")
    url = str(request.url)
    for provider in PROVIDERS.values():
        if url == provider.canonical_endpoint() or url == provider.endpoint():
            return f"{provider.name}/{model}" if model else provider.name
    return None


# Responses input items the model itself produced: replayed statelessly, they mark a past turn.
_ASSISTANT_ITEM_TYPES: Final = frozenset({"function_call", "reasoning"})


def turn_index(protocol: str, body: JSONObject) -> int:
    """How many assistant turns the request's conversation already holds (0 for the first call).

    Chat and Anthropic count ``role: assistant`` messages. A Responses ``input`` has no
    assistant message per turn; a turn is a run of consecutive model-produced items
    (assistant ``message``, ``reasoning``, ``function_call``) between other items.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    if protocol == "openai_responses":
        items = body.get("input")
        if not isinstance(items, list):
            return 0  # a plain-string input is a first user turn
        turns, in_run = 0, False
        for item in items:
            produced = isinstance(item, Mapping) and (
                item.get("type") in _ASSISTANT_ITEM_TYPES
                or (item.get("role") == "assistant" and item.get("type", "message") == "message")
            )
            if produced and not in_run:
                turns += 1
            in_run = produced
        return turns
    messages = body.get("messages")
    if not isinstance(messages, list):
        return 0
    return sum(1 for m in messages if isinstance(m, Mapping) and m.get("role") == "assistant")
