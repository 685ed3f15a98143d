"""Anthropic Messages: request building, response parsing, stream decoding, error classification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_runtime.messages import (
    AssistantMessage,
    Finished,
    ModelRequest,
    ModelResponse,
    ReasoningDelta,
    StreamEvent,
    SystemMessage,
    TextDelta,
    ToolCall,
    ToolCallDone,
    ToolCallStarted,
    ToolResult,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent_runtime.wire.protocols import get_protocol
from agent_runtime.wire.protocols.anthropic_messages import PROTOCOL, map_finish_reason
from agent_runtime.wire.sse import SSEDecoder

TOOL = ToolSpec("pelican_name_generator", "", {"type": "object", "properties": {}})


def ev(kind: str, pad: int = 0, event: str | None = None, **fields: Any) -> str:
    """One event as Anthropic sends it, padding spaces before the final brace included."""
    data = json.dumps({"type": kind, **fields}, separators=(",", ":"))
    data = data[:-1] + " " * pad + "}"
    return f"event: {event or kind}\ndata: {data}\n\n"


START = ev(
    "message_start",
    8,
    message={
        "model": "claude-3-5-haiku",
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 702, "output_tokens": 1},
    },
)
PING = 'event: ping\ndata: {"type": "ping"}\n\n'


def stop(reason: str = "end_turn", **usage: int) -> str:
    return ev(
        "message_delta", delta={"stop_reason": reason, "stop_sequence": None}, usage={"output_tokens": 85, **usage}
    ) + ev("message_stop", 6)


def tool_block(index: int, tool_id: str, name: str, start_input: dict[str, Any], fragments: list[str]) -> str:
    raw = ev(
        "content_block_start",
        8,
        index=index,
        content_block={"type": "tool_use", "id": tool_id, "name": name, "input": start_input},
    )
    for fragment in fragments:
        raw += ev("content_block_delta", 3, index=index, delta={"type": "input_json_delta", "partial_json": fragment})
    return raw + ev("content_block_stop", 13, index=index)


def text_block(index: int, *parts: str) -> str:
    raw = ev("content_block_start", index=index, content_block={"type": "text", "text": ""}) + PING
    for part in parts:
        raw += ev("content_block_delta", index=index, delta={"type": "text_delta", "text": part})
    return raw + ev("content_block_stop", index=index)


def decode(raw: str) -> tuple[list[StreamEvent], ModelResponse]:
    sse, decoder = SSEDecoder(), PROTOCOL.stream_decoder()
    events = [e for s in sse.feed(raw.encode()) for e in decoder.feed(s)]
    return events, decoder.finish()


# -- requests ---------------------------------------------------------------------------------------


def test_request_system_apart_tool_use_objects_and_results_in_one_user_message() -> None:
    messages = [
        SystemMessage("sys one"),
        SystemMessage("sys two"),
        UserMessage("Two names for a pet pelican"),
        AssistantMessage(
            text="Sure.",
            tool_calls=[
                ToolCall("toolu_1", "pelican_name_generator", {}, "{}"),
                ToolCall("toolu_2", "pelican_name_generator", {"n": 1}, '{"n":1}'),
            ],
        ),
        ToolResult("toolu_1", "pelican_name_generator", "Charles"),
        ToolResult("toolu_2", "pelican_name_generator", "boom", is_error=True),
        UserMessage("thanks"),
    ]
    body = PROTOCOL.build_request("claude-haiku-4-5", ModelRequest(messages, [TOOL], stream=True, max_tokens=8192))
    assert body["system"] == "sys one\n\nsys two"
    assert body["max_tokens"] == 8192 and body["stream"] is True
    assert body["tools"] == [{"name": "pelican_name_generator", "description": "", "input_schema": TOOL.parameters}]
    assert body["tool_choice"] == {"type": "auto"}
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Two names for a pet pelican"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Sure."},
                {"type": "tool_use", "id": "toolu_1", "name": "pelican_name_generator", "input": {}},
                {"type": "tool_use", "id": "toolu_2", "name": "pelican_name_generator", "input": {"n": 1}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "Charles"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "boom", "is_error": True},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]


def test_request_without_tools_streaming_or_system() -> None:
    body = PROTOCOL.build_request("m", ModelRequest([UserMessage("hi"), AssistantMessage()], None, stream=False))
    assert set(body) == {"model", "max_tokens", "messages"}
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]  # empty turn dropped


def test_malformed_call_goes_back_with_an_object_input() -> None:
    call = ToolCall("toolu_x", "f", {}, '{"a":', parse_error="bad")
    body = PROTOCOL.build_request("m", ModelRequest([AssistantMessage(tool_calls=[call])], None, stream=False))
    assert body["messages"][0]["content"][0]["input"] == {}


def test_get_protocol() -> None:
    assert get_protocol("anthropic_messages") is PROTOCOL


# -- non-streaming ------------------------------------------------------------------------------------


def test_parse_text_thinking_and_parallel_tool_use() -> None:
    body = {
        "id": "msg_1",
        "model": "claude",
        "type": "message",
        "role": "assistant",
        "stop_reason": "tool_use",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_a", "name": "info", "input": {"name": "Alice"}},
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"q": "x"}},
            {"type": "tool_use", "id": "toolu_b", "name": "info", "input": {"name": "Bob"}},
        ],
        "usage": {"input_tokens": 423, "output_tokens": 202},
    }
    response = PROTOCOL.parse_response(body)
    assert (response.text, response.reasoning) == ("Let me look.", "hmm")
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("toolu_a", "info", {"name": "Alice"}),
        ("toolu_b", "info", {"name": "Bob"}),
    ]
    assert (response.finish_reason, response.raw_finish_reason, response.usage) == (
        "tool_calls",
        "tool_use",
        Usage(423, 202),
    )


def test_parse_error_body_and_bad_shapes() -> None:
    overloaded = PROTOCOL.parse_response(
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    )
    assert overloaded.error is not None and overloaded.error.category == "overloaded"
    api = PROTOCOL.parse_response({"type": "error", "error": {"type": "api_error", "message": "Internal"}})
    assert api.error is not None and api.error.category == "server_error"
    assert PROTOCOL.parse_response({"id": "m"}).error.category == "empty_response"  # type: ignore[union-attr]
    assert PROTOCOL.parse_response("x").error.category == "invalid_json"  # type: ignore[union-attr]


# -- streaming ----------------------------------------------------------------------------------------


def test_stream_text_then_tool_use_with_padding_and_pings() -> None:
    raw = START + text_block(0, "I'll check", " the weather.")
    raw += tool_block(1, "toolu_01L", "get_current_temperature", {}, ["", '{"c', 'ity":', ' "San Franci', 'sco"}'])
    raw += PING + stop("tool_use", input_tokens=351)
    events, response = decode(raw)
    assert events[:2] == [TextDelta("I'll check"), TextDelta(" the weather.")]
    assert ToolCallStarted(0, "toolu_01L", "get_current_temperature") in events
    assert events[-1] == Finished("tool_calls", "tool_use", Usage(351, 85))
    assert response.text == "I'll check the weather."
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("toolu_01L", {"city": "San Francisco"})]
    assert (response.model, response.response_id, response.error) == ("claude-3-5-haiku", "msg_01", None)


def test_stream_cumulative_usage_in_message_delta_wins() -> None:
    response = decode(START + text_block(0, "hi") + stop(input_tokens=1591))[1]
    assert response.usage == Usage(1591, 85)
    response = decode(START + text_block(0, "hi") + stop())[1]  # no input_tokens: message_start's survive
    assert response.usage == Usage(702, 85)


def test_stream_no_argument_tool_sends_only_an_empty_fragment() -> None:
    response = decode(START + tool_block(0, "toolu_1", "pelican_name_generator", {}, [""]) + stop("tool_use"))[1]
    assert [(c.name, c.arguments, c.parse_error) for c in response.tool_calls] == [("pelican_name_generator", {}, None)]


def test_stream_deepseek_parameterless_tool_with_no_delta() -> None:
    response = decode(START + tool_block(0, "call_0", "now", {}, []) + stop("tool_use"))[1]
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("call_0", {})]


@pytest.mark.parametrize(
    "fragments",
    [
        ['{"path": "a.txt"}'],  # full start + the object re-sent once
        ['{"path": ', '"a.txt"}', '{"path": "a.txt"}'],  # re-sent in pieces, then whole again
        ['{"path": "a.txt"}{"path": "a.txt"}'],  # twice in one fragment: unparseable buffer
        [],  # full start, no deltas
        [""],  # full start, empty delta
    ],
)
def test_stream_kimi_duplicated_input(fragments: list[str]) -> None:
    raw = START + tool_block(0, "toolu_k", "read_file", {"path": "a.txt"}, fragments) + stop("tool_use")
    response = decode(raw)[1]
    call = response.tool_calls[0]
    assert (call.arguments, call.parse_error) == ({"path": "a.txt"}, None)


def test_stream_malformed_tool_args_with_empty_start_are_malformed() -> None:
    response = decode(START + tool_block(0, "toolu_m", "write", {}, ['{"path":"a.txt"']) + stop("tool_use"))[1]
    call = response.tool_calls[0]
    assert call.arguments == {} and call.raw_arguments == '{"path":"a.txt"' and call.parse_error
    assert response.error is None  # a malformed call is the loop's business, not a transport error


def test_stream_parallel_tool_blocks_emit_done_at_block_stop() -> None:
    raw = START + tool_block(0, "toolu_a", "gen", {}, [""]) + tool_block(1, "toolu_b", "gen", {}, ['{"k":1}'])
    events, response = decode(raw + stop("tool_use"))
    done = [e for e in events if isinstance(e, ToolCallDone)]
    assert [(d.index, d.call.id, d.call.arguments) for d in done] == [(0, "toolu_a", {}), (1, "toolu_b", {"k": 1})]
    assert len(response.tool_calls) == 2


def test_stream_thinking_signature_redacted_and_server_tools() -> None:
    raw = START + ev(
        "content_block_start", index=0, content_block={"type": "thinking", "thinking": "", "signature": ""}
    )
    raw += ev("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "step 1"})
    raw += ev("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "EqQB"})
    raw += ev("content_block_stop", index=0)
    raw += ev("content_block_start", index=1, content_block={"type": "redacted_thinking", "data": "opaque"})
    raw += ev("content_block_stop", index=1)
    raw += ev(
        "content_block_start",
        index=2,
        content_block={"type": "server_tool_use", "id": "srvtoolu_1", "name": "tool_search_tool_bm25", "input": {}},
    )
    raw += ev("content_block_delta", index=2, delta={"type": "input_json_delta", "partial_json": '{"query": "fx"}'})
    raw += ev("content_block_stop", index=2)
    raw += ev("content_block_start", index=3, content_block={"type": "tool_search_tool_result", "content": {}})
    raw += ev("content_block_stop", index=3)
    raw += text_block(4, "done")
    events, response = decode(raw + stop())
    assert ReasoningDelta("step 1") in events
    assert (response.reasoning, response.text, response.tool_calls) == ("step 1", "done", [])


def test_stream_events_without_event_lines_still_decode() -> None:
    raw = "".join(
        f"data: {line.split('data: ', 1)[1]}"
        for line in (START + text_block(0, "x") + stop()).split("event: ")
        if "data: " in line
    )
    response = decode(raw)[1]
    assert (response.text, response.finish_reason) == ("x", "stop")


def test_stream_without_message_delta_is_truncated() -> None:
    response = decode(START + text_block(0, "partial"))[1]
    assert response.error is not None and response.error.category == "stream_truncated"
    assert response.text == "partial"


@pytest.mark.parametrize(
    ("error", "category"),
    [
        ({"type": "overloaded_error", "message": "Overloaded"}, "overloaded"),
        (
            {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"},
            "rate_limit",
        ),
        (
            {"type": "invalid_request_error", "message": "prompt is too long: 200251 tokens > 200000 maximum"},
            "context_length",
        ),
        ({"type": "api_error", "message": "Internal server error"}, "stream_error"),
    ],
)
def test_stream_error_event(error: dict[str, Any], category: str) -> None:
    raw = START + text_block(0, "a") + f"event: error\ndata: {json.dumps({'type': 'error', 'error': error})}\n\n"
    events, response = decode(raw)
    assert events[-1].kind == "stream_failed"
    assert response.error is not None and response.error.category == category
    assert error["message"] in response.error.message and response.finish_reason == "error"


def test_stream_refusal_is_content_filter() -> None:
    raw = (
        START
        + text_block(0, "I can't")
        + ev(
            "message_delta",
            delta={
                "stop_reason": "refusal",
                "stop_sequence": None,
                "stop_details": {"type": "refusal", "category": "cyber", "explanation": "x"},
            },
            usage={"output_tokens": 3},
        )
    )
    response = decode(raw + ev("message_stop"))[1]
    assert (response.finish_reason, response.raw_finish_reason) == ("content_filter", "refusal")


def test_stream_malformed_event_data_is_invalid_json() -> None:
    raw = START + 'event: content_block_delta\ndata: {"id":"chatcmpl-x","object":"chat.com\n\n'
    response = decode(raw)[1]
    assert response.error is not None and response.error.category == "invalid_json"


def test_stream_unexpected_event_shape_is_invalid_json() -> None:
    response = decode(START + ev("content_block_delta", index=0))[1]  # no delta
    assert response.error is not None and response.error.category == "invalid_json"


# -- finish reasons and errors ------------------------------------------------------------------------


def test_finish_table() -> None:
    assert {
        r: map_finish_reason(r)
        for r in (
            "end_turn",
            "stop_sequence",
            "pause_turn",
            "tool_use",
            "max_tokens",
            "model_context_window_exceeded",
            "refusal",
            "new_reason",
        )
    } == {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "pause_turn": "stop",
        "tool_use": "tool_calls",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "refusal": "content_filter",
        "new_reason": "stop",
    }


@pytest.mark.parametrize(
    ("status", "error_type", "message", "category"),
    [
        (400, "invalid_request_error", "This model does not support effort level 'xhigh'.", "bad_request"),
        (400, "invalid_request_error", "prompt is too long: 200251 tokens > 200000 maximum", "context_length"),
        (
            400,
            "invalid_request_error",
            "input length and `max_tokens` exceed context limit: 199759 + 8192 > 200000",
            "context_length",
        ),
        (401, "authentication_error", "invalid x-api-key", "auth"),
        (402, "billing_error", "credit balance too low", "auth"),
        (403, "permission_error", "no access", "auth"),
        (404, "not_found_error", "model: x", "not_found"),
        (413, "request_too_large", "Request exceeds the maximum size", "context_length"),
        (429, "rate_limit_error", "Rate limited", "rate_limit"),
        (500, "api_error", "Internal server error", "server_error"),
        (504, "timeout_error", "Request timed out", "timeout"),
        (529, "overloaded_error", "Overloaded", "overloaded"),
    ],
)
def test_classify_error_types(status: int, error_type: str, message: str, category: str) -> None:
    body = json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()
    error = PROTOCOL.classify_error(status, {"content-type": "application/json", "request-id": "req_1"}, body)
    assert (error.category, error.status) == (category, status)
    assert message in error.message


def test_classify_real_529_and_html_gateway() -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert PROTOCOL.classify_error(529, {"x-should-retry": "true"}, body).category == "overloaded"
    html = PROTOCOL.classify_error(502, {"content-type": "text/html"}, b"<html><h1>502 Bad Gateway</h1></html>")
    assert html.category == "html_response"
    limited = PROTOCOL.classify_error(429, {"retry-after": "3"}, body.replace(b"overloaded_error", b"rate_limit_error"))
    assert (limited.category, limited.retry_after) == ("rate_limit", 3.0)


def test_stream_message_stop_without_stop_reason_is_complete() -> None:
    response = decode(START + tool_block(0, "toolu_1", "f", {}, ['{"a":1}']) + ev("message_stop"))[1]
    assert (response.error, response.finish_reason, response.raw_finish_reason) == (None, "tool_calls", None)


def test_classify_tools_refused_by_an_anthropic_compatible_route() -> None:
    body = json.dumps(
        {
            "type": "error",
            "error": {"type": "invalid_request_error", "message": "tools: tool use is not supported by this model"},
        }
    )
    assert PROTOCOL.classify_error(400, {}, body.encode()).category == "tools_unsupported"
