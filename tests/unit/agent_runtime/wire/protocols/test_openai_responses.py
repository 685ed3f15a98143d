"""OpenAI Responses (stateless): request building, response parsing, stream decoding, errors."""

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
    ToolCallDone,
    ToolCallStarted,
    ToolResult,
    ToolSpec,
    Usage,
    UserMessage,
)
from agent_runtime.wire.protocols import get_protocol
from agent_runtime.wire.protocols.openai_responses import PROTOCOL, derive_finish
from agent_runtime.wire.sse import SSEDecoder

TOOL = ToolSpec("get_capital", "", {"type": "object", "properties": {"country": {"type": "string"}}})


def ev(kind: str, *, typed: bool = True, **fields: Any) -> str:
    data = json.dumps({"type": kind, **fields})
    return (f"event: {kind}\n" if typed else "") + f"data: {data}\n\n"


def response_obj(status: str = "completed", output: list[Any] | None = None, usage: Any = None, **extra: Any) -> dict:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-4o",
        "status": status,
        "output": output or [],
        "usage": usage,
        "error": None,
        "incomplete_details": None,
        **extra,
    }


CREATED = ev("response.created", response=response_obj("in_progress")) + ev(
    "response.in_progress", response=response_obj("in_progress")
)
USAGE = {"input_tokens": 255, "output_tokens": 16, "total_tokens": 271}
CALL = {
    "type": "function_call",
    "id": "fc_1",
    "call_id": "call_kL0P",
    "name": "get_capital",
    "arguments": "",
    "status": "in_progress",
}


def function_call(
    index: int = 0,
    deltas: tuple[str, ...] = ('{"', 'country":"France"}'),
    final: str = '{"country":"France"}',
    typed: bool = True,
) -> str:
    raw = ev("response.output_item.added", typed=typed, output_index=index, item=CALL)
    for d in deltas:
        raw += ev("response.function_call_arguments.delta", typed=typed, item_id="fc_1", output_index=index, delta=d)
    raw += ev("response.function_call_arguments.done", typed=typed, item_id="fc_1", output_index=index, arguments=final)
    return raw + ev(
        "response.output_item.done",
        typed=typed,
        output_index=index,
        item={**CALL, "arguments": final, "status": "completed"},
    )


def message(index: int, *deltas: str) -> str:
    item = {"type": "message", "id": "msg_1", "role": "assistant", "content": [], "status": "in_progress"}
    raw = ev("response.output_item.added", output_index=index, item=item)
    raw += ev(
        "response.content_part.added", output_index=index, content_index=0, part={"type": "output_text", "text": ""}
    )
    for d in deltas:
        raw += ev("response.output_text.delta", item_id="msg_1", output_index=index, content_index=0, delta=d)
    text = "".join(deltas)
    raw += ev("response.output_text.done", output_index=index, content_index=0, text=text)
    return raw + ev(
        "response.output_item.done",
        output_index=index,
        item={**item, "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]},
    )


def completed(status: str = "completed", **extra: Any) -> str:
    return ev(
        f"response.{status}" if status != "failed" else "response.failed",
        response=response_obj(status, usage=USAGE, **extra),
    )


def decode(raw: str) -> tuple[list[StreamEvent], ModelResponse]:
    sse, decoder = SSEDecoder(), PROTOCOL.stream_decoder()
    events = [e for s in sse.feed(raw.encode()) for e in decoder.feed(s)]
    return events, decoder.finish()


# -- requests ---------------------------------------------------------------------------------------


def test_request_is_stateless_input_items_with_flat_tools() -> None:
    messages = [
        SystemMessage("be brief"),
        UserMessage("What is the capital of France?"),
        AssistantMessage(
            text="Let me check.",
            tool_calls=[ToolCall("call_kL0P", "get_capital", {"country": "France"}, '{"country":"France"}')],
        ),
        ToolResult("call_kL0P", "get_capital", "Paris"),
    ]
    body = PROTOCOL.build_request("gpt-4o", ModelRequest(messages, [TOOL], stream=True, max_tokens=64))
    assert body["instructions"] == "be brief"
    assert body["input"] == [
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Let me check."},
        {"type": "function_call", "call_id": "call_kL0P", "name": "get_capital", "arguments": '{"country":"France"}'},
        {"type": "function_call_output", "call_id": "call_kL0P", "output": "Paris"},
    ]
    assert body["tools"] == [
        {"type": "function", "name": "get_capital", "description": "", "parameters": TOOL.parameters}
    ]
    assert body["tool_choice"] == "auto" and body["max_output_tokens"] == 64 and body["stream"] is True
    assert body["store"] is False and "previous_response_id" not in body and "stream_options" not in body


def test_request_without_tools_and_with_json_mode() -> None:
    body = PROTOCOL.build_request("m", ModelRequest([UserMessage("hi")], None, stream=False, json_mode=True))
    assert "tools" not in body and "stream" not in body and "instructions" not in body
    assert body["text"] == {"format": {"type": "json_object"}}


def test_get_protocol() -> None:
    assert get_protocol("openai_responses") is PROTOCOL


# -- non-streaming ------------------------------------------------------------------------------------


def test_parse_response_items() -> None:
    body = response_obj(
        "completed",
        usage=USAGE,
        output=[
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "**Plan**"}, {"type": "summary_text", "text": "then act"}],
            },
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "I'll check.", "annotations": []}],
            },
            {**CALL, "arguments": '{"country":"France"}', "status": "completed"},
        ],
    )
    response = PROTOCOL.parse_response(body)
    assert (response.text, response.reasoning) == ("I'll check.", "**Plan**\n\nthen act")
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_kL0P", "get_capital", {"country": "France"})
    ]
    assert (response.finish_reason, response.raw_finish_reason, response.usage) == (
        "tool_calls",
        "completed",
        Usage(255, 16),
    )


def test_parse_failed_and_odd_bodies() -> None:
    failed = PROTOCOL.parse_response(response_obj("failed", error={"code": "server_error", "message": "boom"}))
    assert failed.error is not None and failed.finish_reason == "error"
    error = PROTOCOL.parse_response({"error": {"message": "quota", "code": "insufficient_quota"}})
    assert error.error is not None and error.error.category == "rate_limit"
    assert PROTOCOL.parse_response({"id": "x"}).error.category == "empty_response"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("response", "has_calls", "expected"),
    [
        ({"status": "completed"}, False, ("stop", "completed")),
        ({"status": "completed"}, True, ("tool_calls", "completed")),
        (
            {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}},
            False,
            ("length", "max_output_tokens"),
        ),
        (
            {"status": "incomplete", "incomplete_details": {"reason": "content_filter"}},
            True,
            ("content_filter", "content_filter"),
        ),
        ({"status": "incomplete", "incomplete_details": None}, False, ("length", "incomplete")),
        ({"status": "failed"}, False, ("error", "failed")),
    ],
)
def test_derive_finish(response: dict[str, Any], has_calls: bool, expected: tuple[str, str]) -> None:
    assert derive_finish(response, has_calls) == expected


# -- streaming ----------------------------------------------------------------------------------------


def test_stream_function_call_r1_shape() -> None:
    events, response = decode(CREATED + function_call() + completed())
    assert events[0] == ToolCallStarted(0, "call_kL0P", "get_capital")
    done = [e for e in events if isinstance(e, ToolCallDone)]
    assert len(done) == 1 and done[0].call.arguments == {"country": "France"}
    assert events[-1] == Finished("tool_calls", "completed", Usage(255, 16))
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_kL0P", "get_capital", {"country": "France"})
    ]
    assert (response.model, response.response_id, response.error) == ("gpt-4o", "resp_1", None)


def test_stream_text_message() -> None:
    events, response = decode(CREATED + message(0, "The capital", " is Paris.") + completed())
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta("The capital"), TextDelta(" is Paris.")]
    assert (response.text, response.finish_reason) == ("The capital is Paris.", "stop")


def test_stream_reasoning_summary_parts_then_text_and_call() -> None:
    raw = CREATED + ev(
        "response.output_item.added", output_index=0, item={"type": "reasoning", "id": "rs_1", "summary": []}
    )
    for part, deltas in enumerate((["**Plan", "**"], ["Then act"])):
        raw += ev(
            "response.reasoning_summary_part.added",
            item_id="rs_1",
            output_index=0,
            summary_index=part,
            part={"type": "summary_text", "text": ""},
        )
        for d in deltas:
            raw += ev(
                "response.reasoning_summary_text.delta", item_id="rs_1", output_index=0, summary_index=part, delta=d
            )
    raw += ev("response.output_item.done", output_index=0, item={"type": "reasoning", "id": "rs_1", "summary": []})
    raw += message(1, "I'll check.") + function_call(index=2) + completed()
    response = decode(raw)[1]
    assert response.reasoning == "**Plan**\n\nThen act"
    assert response.text == "I'll check." and response.finish_reason == "tool_calls"


def test_stream_done_arguments_beat_repeated_deltas() -> None:
    raw = CREATED + function_call(deltas=('{"country":"France"}', '{"country":"France"}', "}")) + completed()
    call = decode(raw)[1].tool_calls[0]
    assert (call.arguments, call.raw_arguments, call.parse_error) == (
        {"country": "France"},
        '{"country":"France"}',
        None,
    )


def test_stream_openrouter_form_without_event_lines_with_comment_and_done() -> None:
    raw = ": \n\n" + function_call(typed=False, deltas=("{}",), final="{}")
    raw += ev(
        "response.completed",
        typed=False,
        response=response_obj("completed", usage={"input_tokens": 42, "output_tokens": 12}),
    )
    response = decode(raw + "data: [DONE]\n\n")[1]
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("call_kL0P", {})]
    assert (response.usage, response.error) == (Usage(42, 12), None)


def test_stream_message_without_deltas_counts_from_item_done() -> None:
    item = {
        "type": "message",
        "id": "m",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "whole", "annotations": []}],
    }
    raw = CREATED + ev("response.output_item.added", output_index=0, item={**item, "content": []})
    raw += ev("response.output_item.done", output_index=0, item=item) + completed()
    assert decode(raw)[1].text == "whole"


def test_stream_items_only_in_the_terminal_response() -> None:
    output = [
        {"type": "message", "id": "m", "content": [{"type": "output_text", "text": "late"}]},
        {**CALL, "arguments": '{"country":"Peru"}'},
    ]
    raw = CREATED + ev("response.completed", response=response_obj("completed", output=output, usage=USAGE))
    response = decode(raw)[1]
    assert response.text == "late"
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("call_kL0P", {"country": "Peru"})]
    assert response.finish_reason == "tool_calls"


def test_stream_incomplete_gives_length_or_content_filter() -> None:
    length = decode(
        CREATED + message(0, "cut") + completed("incomplete", incomplete_details={"reason": "max_output_tokens"})
    )[1]
    assert (length.finish_reason, length.raw_finish_reason, length.error) == ("length", "max_output_tokens", None)
    blocked = decode(CREATED + completed("incomplete", incomplete_details={"reason": "content_filter"}))[1]
    assert blocked.finish_reason == "content_filter"


def test_stream_without_terminal_event_is_truncated() -> None:
    response = decode(CREATED + message(0, "partial"))[1]
    assert response.error is not None and response.error.category == "stream_truncated"
    assert response.text == "partial"


def test_stream_error_event_then_failed_response_r6_shape() -> None:
    error = {
        "type": "insufficient_quota",
        "code": "insufficient_quota",
        "param": None,
        "message": "You exceeded your current quota, please check your plan and billing details.",
    }
    failed = response_obj("failed", error={"code": "insufficient_quota", "message": error["message"]})
    raw = (
        CREATED
        + ev("error", sequence_number=2, error=error)
        + ev("response.failed", sequence_number=3, response=failed)
    )
    events, response = decode(raw)
    assert [e.kind for e in events] == ["stream_failed"]
    assert response.error is not None and response.error.category == "rate_limit"
    assert response.error.message.startswith("You exceeded your current quota")
    assert response.finish_reason == "error"


@pytest.mark.parametrize(
    ("payload", "category"),
    [
        (
            {
                "code": "context_length_exceeded",
                "message": "Your input exceeds the context window of this model.",
                "param": "input",
            },
            "context_length",
        ),
        ({"code": "server_error", "message": "The server had an error"}, "stream_error"),
    ],
)
def test_stream_flat_error_event(payload: dict[str, Any], category: str) -> None:
    response = decode(CREATED + ev("error", **payload))[1]
    assert response.error is not None and response.error.category == category


def test_stream_failed_without_error_event() -> None:
    raw = CREATED + ev(
        "response.failed", response=response_obj("failed", error={"code": "server_error", "message": "overheated"})
    )
    response = decode(raw)[1]
    assert response.error is not None and response.error.category == "stream_error"
    assert "overheated" in response.error.message


def test_stream_undecodable_event_is_invalid_json() -> None:
    response = decode(CREATED + 'event: response.output_text.delta\ndata: {"type":"resp\n\n')[1]
    assert response.error is not None and response.error.category == "invalid_json"


def test_stream_unexpected_shape_is_invalid_json() -> None:
    response = decode(CREATED + ev("response.output_text.delta", delta="x"))[1]  # no output_index
    assert response.error is not None and response.error.category == "invalid_json"


def test_classify_error_uses_openai_bodies() -> None:
    body = json.dumps(
        {
            "error": {
                "code": "decimal_below_min_value",
                "message": "Invalid 'temperature'",
                "param": "temperature",
                "type": "invalid_request_error",
            }
        }
    ).encode()
    assert PROTOCOL.classify_error(400, {"content-type": "application/json"}, body).category == "bad_request"
    context = json.dumps(
        {
            "error": {
                "code": "context_length_exceeded",
                "message": "Your input exceeds the context window",
                "param": "input",
            }
        }
    ).encode()
    assert PROTOCOL.classify_error(400, {}, context).category == "context_length"
