"""Chat Completions: request building, response parsing, stream decoding, error classification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent_runtime.messages import (
    AssistantMessage,
    Finished,
    ModelRequest,
    ModelResponse,
    StreamEvent,
    SystemMessage,
    TextDelta,
    ToolCall,
    ToolCallArgsDelta,
    ToolCallDone,
    ToolCallStarted,
    ToolResult,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent_runtime.wire.protocols import get_protocol
from agent_runtime.wire.protocols.openai_chat import FINISH_REASONS, PROTOCOL, map_finish_reason
from agent_runtime.wire.sse import SSEDecoder

TOOL = ToolSpec(
    "get_capital", "Capital of a country", {"type": "object", "properties": {"country": {"type": "string"}}}
)


def conversation() -> list[Any]:
    return [
        SystemMessage("be brief"),
        UserMessage("capital of UK?"),
        AssistantMessage(
            text="",
            tool_calls=[
                ToolCall("call_1", "get_capital", {"country": "UK"}, '{"country":"UK"}'),
                ToolCall("call_2", "get_capital", {}, '{"country":', parse_error="bad"),
            ],
        ),
        ToolResult("call_1", "get_capital", "London"),
        ToolResult("call_2", "get_capital", "error: invalid arguments", is_error=True),
    ]


def decode(raw: str | bytes) -> tuple[list[StreamEvent], ModelResponse]:
    sse, decoder = SSEDecoder(), PROTOCOL.stream_decoder()
    events = [
        e for sse_event in sse.feed(raw.encode() if isinstance(raw, str) else raw) for e in decoder.feed(sse_event)
    ]
    return events, decoder.finish()


def chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> str:
    payload: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}],
        **extra,
    }
    return f"data: {json.dumps(payload)}\n\n"


USAGE = (
    'data: {"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":53,"completion_tokens":15,"total_tokens":68}}\n\n'
)


# -- requests ---------------------------------------------------------------------------------------


def test_request_messages_tools_and_streaming_options() -> None:
    body = PROTOCOL.build_request(
        "gpt-4o-mini", ModelRequest(conversation(), [TOOL], stream=True, max_tokens=100), provider="openai"
    )
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "capital of UK?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_capital", "arguments": '{"country":"UK"}'},
                },
                # the original (malformed) string goes back verbatim
                {"id": "call_2", "type": "function", "function": {"name": "get_capital", "arguments": '{"country":'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "London"},
        {"role": "tool", "tool_call_id": "call_2", "content": "error: invalid arguments"},
    ]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "get_capital", "description": "Capital of a country", "parameters": TOOL.parameters},
        }
    ]
    assert body["tool_choice"] == "auto"
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body


def test_request_without_native_tools_or_streaming() -> None:
    body = PROTOCOL.build_request("m", ModelRequest([UserMessage("hi")], None, stream=False, json_mode=True))
    assert "tools" not in body and "tool_choice" not in body and "stream" not in body and "stream_options" not in body
    assert body["response_format"] == {"type": "json_object"}


def test_arguments_without_raw_text_are_serialized() -> None:
    request = ModelRequest([AssistantMessage(tool_calls=[ToolCall("c", "f", {"a": 1})])], None, stream=False)
    assert PROTOCOL.build_request("m", request)["messages"][0]["tool_calls"][0]["function"]["arguments"] == '{"a": 1}'


@pytest.mark.parametrize(
    ("provider", "key"),
    [
        ("openai", "max_completion_tokens"),
        ("openrouter", "max_completion_tokens"),
        ("deepseek", "max_tokens"),
        ("groq", "max_tokens"),
        ("zai", "max_tokens"),
        ("mistral", "max_tokens"),
        ("moonshot", "max_tokens"),
    ],
)
def test_max_tokens_parameter_per_provider(provider: str, key: str) -> None:
    body = PROTOCOL.build_request(
        "m", ModelRequest([UserMessage("hi")], None, stream=False, max_tokens=7), provider=provider
    )
    assert body[key] == 7


def test_deepseek_gets_reasoning_content_back_others_do_not() -> None:
    request = ModelRequest([AssistantMessage(text="ok", reasoning="because")], None, stream=False)
    assert PROTOCOL.build_request("m", request, provider="deepseek")["messages"][0]["reasoning_content"] == "because"
    assert "reasoning_content" not in PROTOCOL.build_request("m", request, provider="openai")["messages"][0]


def test_get_protocol_returns_this_module() -> None:
    assert get_protocol("openai_chat") is PROTOCOL
    assert PROTOCOL.name == "openai_chat"


# -- non-streaming ------------------------------------------------------------------------------------


def test_parse_tool_call_response() -> None:
    body = {
        "id": "chatcmpl-B",
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                        {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": '{"x": [1]}'}},
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 68, "completion_tokens": 12, "total_tokens": 80},
    }
    response = PROTOCOL.parse_response(body)
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_a", "f", {}),
        ("call_b", "g", {"x": [1]}),
    ]
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", "tool_calls")
    assert response.usage == Usage(68, 12)
    assert (response.model, response.response_id, response.error) == ("gpt-4o", "chatcmpl-B", None)


def test_parse_reasoning_variants_and_gemini_empty_id() -> None:
    deepseek = {"choices": [{"finish_reason": "stop", "message": {"content": "hi", "reasoning_content": "hmm"}}]}
    groq = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "reasoning": "r",
                    "tool_calls": [
                        {"id": "fc_1", "type": "function", "function": {"name": "f", "arguments": '{"n":1}'}}
                    ],
                },
            }
        ]
    }
    gemini = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "tool_calls": [{"id": "", "type": "function", "function": {"name": "now", "arguments": "{}"}}]
                },
            }
        ]
    }
    assert (PROTOCOL.parse_response(deepseek).text, PROTOCOL.parse_response(deepseek).reasoning) == ("hi", "hmm")
    assert PROTOCOL.parse_response(groq).reasoning == "r"
    assert [(c.id, c.name) for c in PROTOCOL.parse_response(gemini).tool_calls] == [("", "now")]


def test_parse_mistral_content_parts_and_moonshot_choice_usage() -> None:
    body = {
        "choices": [
            {
                "finish_reason": "stop",
                "usage": {"prompt_tokens": 5, "completion_tokens": 6},
                "message": {
                    "content": [
                        {"type": "thinking", "thinking": [{"type": "text", "text": "plan"}]},
                        {"type": "text", "text": "done"},
                    ]
                },
            }
        ]
    }
    response = PROTOCOL.parse_response(body)
    assert (response.text, response.reasoning, response.usage) == ("done", "plan", Usage(5, 6))


def test_parse_error_body_in_a_200_and_a_body_without_choices() -> None:
    error = PROTOCOL.parse_response(
        {"error": {"message": "That model is currently overloaded", "type": "server_error"}}
    )
    assert error.error is not None and error.error.category == "server_error" and error.finish_reason == "error"
    empty = PROTOCOL.parse_response({"id": "x", "choices": []})
    assert empty.error is not None and empty.error.category == "empty_response"
    assert PROTOCOL.parse_response([1, 2]).error.category == "invalid_json"  # type: ignore[union-attr]


def test_parse_missing_finish_reason_is_derived() -> None:
    body = {"choices": [{"message": {"tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{}"}}]}}]}
    response = PROTOCOL.parse_response(body)
    assert (response.finish_reason, response.raw_finish_reason) == ("tool_calls", None)


# -- streaming ----------------------------------------------------------------------------------------


def test_stream_tool_call_oa1_shape() -> None:
    first = {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {"index": 0, "id": "call_ZR5", "type": "function", "function": {"name": "get_capital", "arguments": ""}}
        ],
    }
    frags = ['{"', "country", '":"', "UK", '"}']
    raw = chunk(first) + "".join(chunk({"tool_calls": [{"index": 0, "function": {"arguments": f}}]}) for f in frags)
    raw += chunk({}, "tool_calls") + USAGE + "data: [DONE]\n\n"
    events, response = decode(raw)
    assert events[0] == ToolCallStarted(0, "call_ZR5", "get_capital")
    assert [e for e in events if isinstance(e, ToolCallArgsDelta)] == [ToolCallArgsDelta(0, f) for f in frags]
    done = [e for e in events if isinstance(e, ToolCallDone)]
    assert len(done) == 1 and done[0].call.arguments == {"country": "UK"}
    assert events[-1] == Finished("tool_calls", "tool_calls", Usage(53, 15))
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_ZR5", "get_capital", {"country": "UK"})
    ]
    assert (response.finish_reason, response.usage, response.error) == ("tool_calls", Usage(53, 15), None)


def test_stream_parallel_calls_and_role_only_first_delta() -> None:
    raw = chunk({"role": "assistant", "content": None})
    for i, name in enumerate(["get_country", "get_product_name"]):
        raw += chunk(
            {
                "tool_calls": [
                    {"index": i, "id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": ""}}
                ]
            }
        )
        raw += chunk({"tool_calls": [{"index": i, "function": {"arguments": "{}"}}]})
    raw += chunk({}, "tool_calls") + USAGE + "data: [DONE]\n\n"
    response = decode(raw)[1]
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_0", "get_country", {}),
        ("call_1", "get_product_name", {}),
    ]


def test_stream_openrouter_repeats_role_id_and_name_in_every_delta() -> None:
    raw = "".join(
        chunk(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get", "arguments": frag}}
                ],
            }
        )
        for frag in ['{"a"', ":1}"]
    )
    raw += chunk({"role": "assistant", "content": ""}, "tool_calls")
    response = decode(": OPENROUTER PROCESSING\n\n" + raw + "data: [DONE]\n\n")[1]
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("call_1", "get", {"a": 1})]


def test_stream_duplicated_arguments_chat_analogue_of_kimi() -> None:
    header = {
        "tool_calls": [
            {"index": 0, "id": "c", "type": "function", "function": {"name": "read", "arguments": '{"path":"a.txt"}'}}
        ]
    }
    repeat = {"tool_calls": [{"index": 0, "function": {"arguments": '{"path":"a.txt"}'}}]}
    response = decode(chunk(header) + chunk(repeat) + chunk({}, "tool_calls") + "data: [DONE]\n\n")[1]
    call = response.tool_calls[0]
    assert (call.arguments, call.raw_arguments, call.parse_error) == ({"path": "a.txt"}, '{"path":"a.txt"}', None)


def test_stream_usage_chunk_after_finish_with_null_finish_keeps_the_finish() -> None:
    raw = chunk({"content": "2 + 2 = 4"}) + chunk({"role": "assistant", "content": ""}, "stop")
    raw += chunk({"role": "assistant", "content": ""}, None, usage={"prompt_tokens": 43, "completion_tokens": 36})
    response = decode(raw + "data: [DONE]\n\n")[1]
    assert (response.finish_reason, response.usage, response.text) == ("stop", Usage(43, 36), "2 + 2 = 4")


def test_stream_reasoning_fields_and_groq_usage() -> None:
    raw = chunk({"reasoning_content": "r1", "content": None}) + chunk({"reasoning": "r2", "channel": "analysis"})
    raw += chunk({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "r3"}]}]})
    raw += chunk({"content": "answer"})
    raw += chunk({}, "stop", x_groq={"id": "req", "usage": {"prompt_tokens": 9, "completion_tokens": 8}})
    response = decode(raw)[1]
    assert (response.reasoning, response.text, response.usage) == ("r1r2r3", "answer", Usage(9, 8))


def test_stream_azure_filter_chunk_and_zai_missing_finish_key() -> None:
    azure = 'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[]}\n\n'
    zai = 'data: {"id":"1","choices":[{"index":0,"delta":{"role":"assistant","content":"4"}}]}\n\n'
    events, response = decode(azure + zai + chunk({"role": "assistant"}, "stop") + "data: [DONE]\n\n")
    assert events[0] == TextDelta("4")
    assert (response.text, response.finish_reason, response.model) == ("4", "stop", "gpt-4o-mini")


def test_stream_ending_without_finish_is_truncated() -> None:
    response = decode(chunk({"role": "assistant"}) + chunk({"content": "Hel"}))[1]
    assert response.error is not None and response.error.category == "stream_truncated"
    assert response.text == "Hel" and response.finish_reason == "error"


def test_stream_with_finish_but_without_done_is_complete() -> None:
    response = decode(chunk({"content": "ok"}) + chunk({}, "stop"))[1]
    assert (response.error, response.finish_reason) == (None, "stop")


def test_stream_openrouter_inband_error_keeps_usage_and_raw_finish() -> None:
    error = {
        "id": "gen-1",
        "error": {"code": 400, "message": "Token limit reached"},
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        "usage": {"prompt_tokens": 43, "completion_tokens": 10},
    }
    raw = chunk({"reasoning": "We need"}, "length") + f"data: {json.dumps(error)}\n\ndata: [DONE]\n\n"
    events, response = decode(raw)
    assert events[-1].kind == "stream_failed"
    assert response.error is not None and response.error.category == "stream_error"
    assert response.error.message == "Token limit reached"
    assert (response.finish_reason, response.raw_finish_reason, response.usage) == ("error", "length", Usage(43, 10))


@pytest.mark.parametrize(
    ("error", "category"),
    [
        (
            {"code": 429, "message": "Provider returned error", "metadata": {"raw": "rate-limited upstream"}},
            "rate_limit",
        ),
        ({"code": "server_error", "message": "Provider disconnected unexpectedly"}, "stream_error"),
        ({"message": "The server had an error", "type": "server_error"}, "stream_error"),
        (
            {"message": "This model's maximum context length is 4097 tokens.", "code": "context_length_exceeded"},
            "context_length",
        ),
        ({"message": "The engine is currently overloaded", "type": "engine_overloaded_error"}, "overloaded"),
    ],
)
def test_stream_inband_error_categories(error: dict[str, Any], category: str) -> None:
    response = decode(chunk({"content": "a"}) + f"data: {json.dumps({'error': error})}\n\n")[1]
    assert response.error is not None and response.error.category == category
    assert error["message"] in response.error.message


def test_stream_groq_error_event_is_classified_by_its_code() -> None:
    error = {
        "error": {
            "message": "Tool call validation failed",
            "type": "invalid_request_error",
            "code": "tool_use_failed",
            "status_code": 400,
        }
    }
    response = decode(chunk({"reasoning": "x"}) + f"event: error\ndata: {json.dumps(error)}\n\n")[1]
    assert response.error is not None and response.error.category == "malformed_tool_call"


def test_stream_finish_reason_error_without_error_object() -> None:
    response = decode(chunk({"content": ""}, "error"))[1]
    assert response.error is not None and response.error.category == "stream_error"


def test_stream_malformed_data_line_is_invalid_json_and_stops_decoding() -> None:
    raw = chunk({"content": "a"}) + 'data: {"id":"chatcmpl-x","object":"chat.com\n\n' + chunk({"content": "b"}, "stop")
    response = decode(raw)[1]
    assert response.error is not None and response.error.category == "invalid_json"
    assert response.text == "a"


def test_stream_unexpected_shape_is_invalid_json_not_an_exception() -> None:
    response = decode('data: {"choices": [{"index": 0, "delta": {"tool_calls": 5}}]}\n\n')[1]
    assert response.error is not None and response.error.category == "invalid_json"


def test_stream_content_filter_finish() -> None:
    response = decode(chunk({"content": "partial"}) + chunk({}, "content_filter") + "data: [DONE]\n\n")[1]
    assert (response.finish_reason, response.raw_finish_reason, response.error) == (
        "content_filter",
        "content_filter",
        None,
    )


def test_nothing_counts_after_done() -> None:
    response = decode(chunk({"content": "a"}, "stop") + "data: [DONE]\n\n" + chunk({"content": "b"}))[1]
    assert response.text == "a"


# -- finish reasons and errors ------------------------------------------------------------------------


def test_finish_table() -> None:
    assert {
        raw: map_finish_reason(raw)
        for raw in ("stop", "tool_calls", "function_call", "length", "content_filter", "sensitive", "error", "whatever")
    } == {
        "stop": "stop",
        "tool_calls": "tool_calls",
        "function_call": "tool_calls",
        "length": "length",
        "content_filter": "content_filter",
        "sensitive": "content_filter",
        "error": "error",
        "whatever": "stop",
    }
    assert set(FINISH_REASONS.values()) == {"stop", "tool_calls", "length", "content_filter", "error"}


def classify(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return PROTOCOL.classify_error(status, {"content-type": "application/json", **(headers or {})}, raw)


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [
        (
            404,
            {
                "error": {
                    "message": "No endpoints found that support tool use. To learn more about provider routing, "
                    "visit: https://openrouter.ai/docs/guides/routing/provider-selection",
                    "code": 404,
                }
            },
            "tools_unsupported",
        ),
        (
            404,
            {
                "error": {
                    "message": "The model `x` does not exist",
                    "type": "invalid_request_error",
                    "code": "model_not_found",
                }
            },
            "not_found",
        ),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 4097 tokens.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
            "context_length",
        ),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 131072 tokens. However, you requested 131134 "
                    "tokens",
                    "type": "invalid_request_error",
                    "code": "invalid_request_error",
                }
            },
            "context_length",
        ),
        (
            400,
            {"error": {"message": "This endpoint's maximum context length is 32768 tokens.", "code": 400}},
            "context_length",
        ),
        (400, {"error": {"code": "1261", "message": "Prompt exceeds max length"}}, "context_length"),
        (400, {"error": {"code": "1301", "message": "unsafe content"}}, "content_filter"),
        (
            400,
            {
                "error": {
                    "message": "Tool call validation failed",
                    "type": "invalid_request_error",
                    "code": "tool_use_failed",
                    "failed_generation": "{}",
                }
            },
            "malformed_tool_call",
        ),
        (
            400,
            {"error": {"code": "unsupported_value", "message": "Unsupported value", "type": "invalid_request_error"}},
            "bad_request",
        ),
        (401, {"error": {"message": "No cookie auth credentials found", "code": 401}}, "auth"),
        (
            429,
            {"error": {"message": "The engine is currently overloaded", "type": "engine_overloaded_error"}},
            "overloaded",
        ),
        (429, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}, "rate_limit"),
        (
            503,
            {"error": {"message": "That model is currently overloaded with other requests.", "type": "server_error"}},
            "server_error",
        ),
        (500, b"", "server_error"),
        (502, b"<html><body>Bad Gateway</body></html>", "html_response"),
    ],
)
def test_classify_error_bodies(status: int, body: Any, category: str) -> None:
    error = classify(status, body)
    assert (error.category, error.status) == (category, status)


def test_classify_keeps_retry_after() -> None:
    error = classify(429, {"error": {"code": 429, "message": "Provider returned error"}}, {"retry-after": "1"})
    assert (error.category, error.retry_after) == ("rate_limit", 1.0)
    assert "Provider returned error" in error.message


def test_stream_openrouter_documented_error_with_finish_error_keeps_the_body_error() -> None:
    payload = {
        "id": "cmpl-abc123",
        "object": "chat.completion.chunk",
        "provider": "openai",
        "error": {"code": "server_error", "message": "Provider disconnected unexpectedly"},
        "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
    }
    events, response = decode(chunk({"content": "Hi"}) + f"data: {json.dumps(payload)}\n\n")
    assert [e.kind for e in events] == ["text", "stream_failed"]
    assert response.error is not None
    assert (response.error.category, response.error.message) == ("stream_error", "Provider disconnected unexpectedly")
    assert (response.finish_reason, response.raw_finish_reason) == ("error", "error")


def test_openai_unsupported_tools_parameter_is_tools_unsupported() -> None:
    body = {
        "error": {
            "message": "Unsupported parameter: 'tools' is not supported with this model.",
            "type": "invalid_request_error",
            "param": "tools",
            "code": "unsupported_parameter",
        }
    }
    assert classify(400, body).category == "tools_unsupported"
    other = {
        "error": {
            "message": "Unsupported parameter: 'temperature' is not supported with this model.",
            "type": "invalid_request_error",
            "param": "temperature",
            "code": "unsupported_parameter",
        }
    }
    assert classify(400, other).category == "bad_request"
