"""Helpers shared by the emulator tests: build requests, play them, split SSE bodies."""

from __future__ import annotations

import json
from typing import Any

from pytest_kylecode.emulator import Turn, parse_script, respond
from pytest_kylecode.wire import WireResponse

TOOLS_CHAT = [
    {
        "type": "function",
        "function": {"name": "list_dir", "description": "", "parameters": {"type": "object", "properties": {}}},
    }
]
TOOLS_FLAT = [{"type": "function", "name": "list_dir", "description": "", "parameters": {"type": "object"}}]
TOOLS_ANTHROPIC = [{"name": "list_dir", "description": "", "input_schema": {"type": "object"}}]
PATHS = {
    "openai_chat": "/v1/chat/completions",
    "anthropic_messages": "/v1/messages",
    "openai_responses": "/v1/responses",
}


def request_body(
    protocol: str,
    *,
    stream: bool,
    tools: bool = True,
    model: str = "test-model",
    assistant_turns: int = 0,
    include_usage: bool = True,
) -> dict[str, Any]:
    """A minimal valid request of ``protocol`` with ``assistant_turns`` earlier turns in it."""
    if protocol == "openai_responses":
        items: list[Any] = [{"role": "user", "content": "go"}]
        for i in range(assistant_turns):
            items += [
                {"type": "function_call", "call_id": f"c{i}", "name": "list_dir", "arguments": "{}"},
                {"type": "function_call_output", "call_id": f"c{i}", "output": "ok"},
            ]
        body: dict[str, Any] = {"model": model, "input": items, "stream": stream}
        if tools:
            body["tools"] = TOOLS_FLAT
        return body
    messages: list[Any] = [{"role": "user", "content": "go"}]
    for i in range(assistant_turns):
        messages += [{"role": "assistant", "content": f"turn {i}"}, {"role": "user", "content": "more"}]
    body = {"model": model, "messages": messages, "stream": stream}
    if protocol == "anthropic_messages":
        body["max_tokens"] = 1024
        if tools:
            body["tools"] = TOOLS_ANTHROPIC
    else:
        if stream and include_usage:
            body["stream_options"] = {"include_usage": True}
        if tools:
            body["tools"] = TOOLS_CHAT
    return body


def play(script: list[Turn] | list[dict[str, Any]], protocol: str, body: dict[str, Any]) -> WireResponse:
    turns = parse_script(script) if script and isinstance(script[0], dict) else script
    return respond(turns, "POST", PATHS[protocol], json.dumps(body).encode())  # type: ignore[arg-type]


def sse_events(raw: bytes) -> list[tuple[str | None, str]]:
    """Split an SSE body into (event, data) pairs; asserts the framing real providers use."""
    assert raw.endswith(b"\n\n"), raw[-40:]
    assert b"\r" not in raw
    out = []
    for block in raw.decode().split("\n\n")[:-1]:
        event, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                assert data is None, f"one data line per event: {block!r}"
                data = line[6:]
            else:
                raise AssertionError(f"unexpected SSE line {line!r}")
        assert data is not None, block
        out.append((event, data))
    return out


def chunk_events(wire: WireResponse) -> list[tuple[str | None, str]]:
    """Events of a streamed response, checking that every chunk holds exactly one event."""
    for _, chunk in wire.chunks:
        assert len(sse_events(chunk)) == 1, chunk
    return sse_events(wire.body)
