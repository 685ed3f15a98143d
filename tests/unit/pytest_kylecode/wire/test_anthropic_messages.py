from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent_runtime.dialect import format_tool_call
from pytest_kylecode.emulator import Turn, parse_script
from pytest_kylecode.wire import anthropic_messages

from ..emulated import chunk_events, play, request_body, sse_events

P = "anthropic_messages"


def events(script: list[Turn], **kw: Any) -> list[tuple[str, dict]]:
    wire = play(script, P, request_body(P, stream=True, **kw))
    assert wire.status == 200 and wire.header("content-type") == "text/event-stream; charset=utf-8"
    assert re.fullmatch(r"req_011C[0-9A-Za-z]{20}", wire.header("request-id") or "")
    out = []
    for name, data in chunk_events(wire):
        assert name is not None, "Anthropic names every event (the SDK drops unnamed ones)"
        payload = json.loads(data)
        assert payload["type"] == name
        if name == "ping":
            assert data == '{"type": "ping"}'
        out.append((name, payload))
    return out


def test_event_order_text_then_parallel_tools(two_calls_script: list[Turn]) -> None:
    out = events(two_calls_script)
    names = [n for n, _ in out]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    assert "[DONE]" not in json.dumps(out)
    # blocks strictly one after the other: start, deltas, stop
    blocks: list[tuple[int, str]] = []
    open_index = None
    for name, p in out[1:-2]:
        if name == "content_block_start":
            assert open_index is None
            open_index = p["index"]
            blocks.append((p["index"], p["content_block"]["type"]))
        elif name == "content_block_delta":
            assert p["index"] == open_index
        elif name == "content_block_stop":
            assert p["index"] == open_index
            open_index = None
        else:
            assert name == "ping"
    assert blocks == [(0, "text"), (1, "tool_use"), (2, "tool_use")]
    assert names.count("ping") == 1


def _assemble(out: list[tuple[str, dict]]) -> dict[int, dict]:
    """Reassemble blocks the way the SDK does (start, then deltas appended)."""
    blocks: dict[int, dict] = {}
    for name, p in out:
        if name == "content_block_start":
            blocks[p["index"]] = dict(p["content_block"], _json="")
        elif name == "content_block_delta":
            d, b = p["delta"], blocks[p["index"]]
            if d["type"] == "text_delta":
                b["text"] += d["text"]
            elif d["type"] == "input_json_delta":
                b["_json"] += d["partial_json"]
            elif d["type"] == "thinking_delta":
                b["thinking"] += d["thinking"]
            elif d["type"] == "signature_delta":
                b["signature"] = d["signature"]
    return blocks


def test_tool_input_fragments_start_empty_and_reassemble(two_calls_script: list[Turn]) -> None:
    out = events(two_calls_script)
    starts = [p["content_block"] for n, p in out if n == "content_block_start"]
    starts = [s for s in starts if s["type"] == "tool_use"]
    assert all(s["input"] == {} and re.fullmatch(r"toolu_01[0-9A-Za-z]{22}", s["id"]) for s in starts)
    first_fragments = {}
    for n, p in out:
        if n == "content_block_delta" and p["delta"]["type"] == "input_json_delta":
            first_fragments.setdefault(p["index"], p["delta"]["partial_json"])
    assert first_fragments == {1: "", 2: ""}  # as in every recording
    blocks = _assemble(out)
    assert blocks[0]["text"] == "Looking around."
    assert [(b["name"], json.loads(b["_json"])) for b in (blocks[1], blocks[2])] == [
        ("list_dir", {"path": "."}),
        ("read_file", {"path": "src/fs.c", "limit": 20}),
    ]


def test_message_start_and_delta_usage(two_calls_script: list[Turn]) -> None:
    out = events(two_calls_script)
    start = out[0][1]["message"]
    assert re.fullmatch(r"msg_01[0-9A-Za-z]{22}", start["id"])
    assert start["content"] == [] and start["stop_reason"] is None and start["usage"]["output_tokens"] == 1
    delta = next(p for n, p in out if n == "message_delta")
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"]["input_tokens"] == start["usage"]["input_tokens"] and delta["usage"]["output_tokens"] > 1


def test_payloads_are_padded_like_anthropics(two_calls_script: list[Turn]) -> None:
    raw = play(two_calls_script, P, request_body(P, stream=True)).body.decode()
    pads = re.findall(r"( *)}\n\n", raw)
    assert any(pads) and all(len(p) <= 15 for p in pads)


def test_thinking_block_and_refusal() -> None:
    script = parse_script([{"text": "I can't help with that.", "reasoning": "Policy.", "finish": "content_filter"}])
    out = events(script)
    blocks = _assemble(out)
    assert blocks[0]["type"] == "thinking" and blocks[0]["thinking"] == "Policy." and blocks[0]["signature"]
    assert blocks[1]["text"] == "I can't help with that."
    delta = next(p for n, p in out if n == "message_delta")["delta"]
    assert delta["stop_reason"] == "refusal" and delta["stop_details"]["type"] == "refusal"


@pytest.mark.parametrize(("finish", "stop_reason"), [("stop", "end_turn"), ("length", "max_tokens")])
def test_finish_mapping(finish: str, stop_reason: str) -> None:
    out = events(parse_script([{"text": "x", "finish": finish}]))
    assert next(p for n, p in out if n == "message_delta")["delta"]["stop_reason"] == stop_reason


def test_non_streaming_message(two_calls_script: list[Turn]) -> None:
    wire = play(two_calls_script, P, request_body(P, stream=False))
    assert wire.header("content-type") == "application/json"
    data = json.loads(wire.body)
    assert data["type"] == "message" and data["role"] == "assistant" and data["stop_reason"] == "tool_use"
    assert [b["type"] for b in data["content"]] == ["text", "tool_use", "tool_use"]
    assert data["content"][2]["input"] == {"path": "src/fs.c", "limit": 20}  # an object, not a string
    streamed = events(two_calls_script)
    assert streamed[0][1]["message"]["id"] == data["id"]


def test_text_dialect_and_malformed_input() -> None:
    script = parse_script([{"tool_calls": [{"name": "write_file", "raw_arguments": '{"path": "a.txt"'}]}])
    data = json.loads(play(script, P, request_body(P, stream=False, tools=False)).body)
    assert data["content"] == [{"type": "text", "text": format_tool_call("write_file", '{"path": "a.txt"')}]
    assert data["stop_reason"] == "end_turn"
    streamed = _assemble(events(script))
    assert streamed[0]["_json"] == '{"path": "a.txt"'
    native = json.loads(play(script, P, request_body(P, stream=False)).body)
    assert native["content"][0]["input"] == '{"path": "a.txt"'  # unparseable: kept as the raw string


def test_determinism(two_calls_script: list[Turn]) -> None:
    body = request_body(P, stream=True)
    assert play(two_calls_script, P, body).chunks == play(two_calls_script, P, body).chunks


# -- errors for the fault transport ------------------------------------------------------------------


def test_529_is_anthropics_75_byte_body() -> None:
    wire = anthropic_messages.error_response("http_529")
    assert wire.status == 529 and wire.header("x-should-retry") == "true"
    assert wire.body == b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert len(wire.body) == 75


@pytest.mark.parametrize(
    ("kind", "status", "etype"),
    [
        ("http_400", 400, "invalid_request_error"),
        ("http_401", 401, "authentication_error"),
        ("http_404", 404, "not_found_error"),
        ("http_429", 429, "rate_limit_error"),
        ("http_500", 500, "api_error"),
        ("tools_unsupported", 400, "invalid_request_error"),
        ("context_length", 400, "invalid_request_error"),
    ],
)
def test_error_bodies(kind: str, status: int, etype: str) -> None:
    wire = anthropic_messages.error_response(kind, seed="x")
    body = json.loads(wire.body)
    assert wire.status == status and body["type"] == "error" and body["error"]["type"] == etype
    assert body["request_id"] == wire.header("request-id")
    if status == 429:
        assert wire.header("retry-after") == "1"
    assert anthropic_messages.error_response(kind, seed="x").body == wire.body


def test_context_length_message() -> None:
    body = json.loads(anthropic_messages.error_response("context_length").body)
    assert body["error"]["message"].startswith("prompt is too long")


def test_stream_error_and_finish_event(two_calls_script: list[Turn]) -> None:
    err = anthropic_messages.stream_error_event("anthropic")
    ((name, data),) = sse_events(err)
    assert name == "error" and json.loads(data)["error"]["type"] == "overloaded_error"
    wire = play(two_calls_script, P, request_body(P, stream=True))
    finishing = [i for i, (_, c) in enumerate(wire.chunks) if anthropic_messages.is_finish_event(c)]
    assert finishing == [len(wire.chunks) - 2]
    assert anthropic_messages.malformed_event().startswith(b"event: content_block_delta\ndata: {")
