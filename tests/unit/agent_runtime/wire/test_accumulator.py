"""The shared delta accumulator: set-once ids, argument rules, finish, usage, errors."""

from __future__ import annotations

import pytest

from agent_runtime.messages import (
    Finished,
    ReasoningDelta,
    StreamFailed,
    TextDelta,
    ToolCallArgsDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
)
from agent_runtime.wire.accumulator import Accumulator, parse_arguments


def calls(acc: Accumulator) -> list[tuple[str, str, dict, str | None]]:
    return [(c.id, c.name, c.arguments, c.parse_error) for c in acc.response().tool_calls]


def test_text_and_reasoning_accumulate_and_emit_events() -> None:
    acc = Accumulator()
    events = acc.text("Hel") + acc.text("") + acc.reasoning("think") + acc.text("lo")
    assert events == [TextDelta("Hel"), ReasoningDelta("think"), TextDelta("lo")]
    response = acc.response()
    assert (response.text, response.reasoning) == ("Hello", "think")


def test_id_and_name_are_set_once_even_when_repeated_in_every_delta() -> None:
    acc = Accumulator()
    events = acc.tool_call(0, id="call_1", name="get")
    for fragment in ('{"a"', ":1}"):
        events += acc.tool_call(0, id="call_1", name="get")  # OpenRouter / Z.ai repeat them
        events += acc.tool_args(0, fragment)
    assert calls(acc) == [("call_1", "get", {"a": 1}, None)]
    assert events == [ToolCallStarted(0, "call_1", "get"), ToolCallArgsDelta(0, '{"a"'), ToolCallArgsDelta(0, ":1}")]


def test_id_arriving_after_an_empty_one_is_taken() -> None:
    acc = Accumulator()
    acc.tool_call(0, id="", name="")
    acc.tool_call(0, id="call_9", name="late")
    assert calls(acc) == [("call_9", "late", {}, None)]


@pytest.mark.parametrize(("given", "expected"), [(None, ""), ("", ""), (7, "7"), (True, "")])
def test_missing_empty_and_integer_ids_keep_the_call(given: object, expected: str) -> None:
    acc = Accumulator()
    acc.tool_call(0, id=given, name="f")
    acc.tool_args(0, "{}")
    assert calls(acc) == [(expected, "f", {}, None)]


def test_parallel_calls_keep_their_order_and_own_arguments() -> None:
    acc = Accumulator()
    acc.tool_call(0, id="a", name="one")
    acc.tool_args(0, '{"x":')
    acc.tool_call(1, id="b", name="two")
    acc.tool_args(1, '{"y":2}')
    acc.tool_args(0, "1}")
    assert calls(acc) == [("a", "one", {"x": 1}, None), ("b", "two", {"y": 2}, None)]


def test_a_different_id_under_a_reused_key_is_a_new_call() -> None:
    acc = Accumulator()
    acc.tool_call(0, id="a", name="one")
    acc.tool_args(0, "{}")
    acc.tool_call(0, id="b", name="two")
    acc.tool_args(0, '{"k":1}')
    assert calls(acc) == [("a", "one", {}, None), ("b", "two", {"k": 1}, None)]


def test_args_for_an_unknown_key_open_a_call() -> None:
    acc = Accumulator()
    events = acc.tool_args(3, '{"q":1}')
    assert events[0] == ToolCallStarted(0, "", "")
    assert calls(acc) == [("", "", {"q": 1}, None)]


# -- chat analogue of the Kimi duplication ------------------------------------------------------------


def test_full_arguments_then_a_resend_keep_one_copy() -> None:
    acc = Accumulator()
    acc.tool_call(0, id="c", name="read")
    acc.tool_args(0, '{"path": "a.txt"}')
    events = acc.tool_args(0, '{"path": "a.txt"}')
    assert events == []  # the re-send is not an argument delta either
    call = acc.response().tool_calls[0]
    assert (call.arguments, call.raw_arguments, call.parse_error) == ({"path": "a.txt"}, '{"path": "a.txt"}', None)


def test_self_parsing_fragment_is_appended_when_the_buffer_is_incomplete() -> None:
    acc = Accumulator()
    acc.tool_args(0, '{"a": ')
    acc.tool_args(0, '{"b": 1}')
    acc.tool_args(0, "}")
    assert calls(acc) == [("", "", {"a": {"b": 1}}, None)]


def test_invalid_final_buffer_falls_back_to_the_last_self_parsing_fragment() -> None:
    acc = Accumulator()
    acc.tool_args(0, '{"path": "a.txt"}')
    acc.tool_args(0, '{"path": "a.')  # a partial repeat: the buffer no longer parses
    call = acc.response().tool_calls[0]
    assert (call.arguments, call.raw_arguments, call.parse_error) == ({"path": "a.txt"}, '{"path": "a.txt"}', None)


def test_invalid_arguments_are_a_parse_error_never_an_exception() -> None:
    acc = Accumulator()
    acc.tool_call(0, id="c", name="write")
    acc.tool_args(0, '{"path":"a.txt"')
    call = acc.response().tool_calls[0]
    assert call.arguments == {}
    assert call.raw_arguments == '{"path":"a.txt"'
    assert call.parse_error and "not valid JSON" in call.parse_error


@pytest.mark.parametrize("text", ["[1, 2]", '"a string"', "42", "null"])
def test_arguments_that_are_not_an_object_are_a_parse_error(text: str) -> None:
    acc = Accumulator()
    acc.tool_args(0, text)
    call = acc.response().tool_calls[0]
    assert call.arguments == {} and call.raw_arguments == text
    assert call.parse_error and "not an object" in call.parse_error


def test_blank_arguments_mean_no_arguments() -> None:
    assert parse_arguments("  ") == ({}, None)
    acc = Accumulator()
    acc.tool_call(0, id="c", name="now")
    assert calls(acc) == [("c", "now", {}, None)]


def test_authoritative_final_text_replaces_the_buffer() -> None:
    acc = Accumulator()
    acc.tool_args(0, '{"a":1}')
    acc.tool_args(0, '{"a":1}{"a"')  # a corrupted repeat
    events = acc.tool_done(0, '{"a": 1}')
    assert isinstance(events[0], ToolCallDone) and events[0].call.arguments == {"a": 1}
    assert calls(acc) == [("", "", {"a": 1}, None)]


def test_invalid_authoritative_text_is_a_parse_error() -> None:
    acc = Accumulator()
    acc.tool_args(0, '{"a":1}')
    acc.tool_done(0, "{oops")
    assert acc.response().tool_calls[0].parse_error


# -- Anthropic / Kimi: start input + delta buffer -------------------------------------------------------


def start(acc: Accumulator, start_input: dict | None) -> None:
    acc.tool_call(1, id="toolu_1", name="read", mode="start_input", start_input=start_input)


def test_kimi_full_start_input_and_repeating_deltas_give_the_object() -> None:
    acc = Accumulator()
    start(acc, {"path": "a.txt"})
    acc.tool_args(1, '{"path": ')
    acc.tool_args(1, '"a.txt"}')
    acc.tool_args(1, '{"path": "a.txt"}')  # the whole object once more
    acc.tool_done(1)
    assert calls(acc) == [("toolu_1", "read", {"path": "a.txt"}, None)]


def test_start_input_with_an_unparseable_buffer_falls_back_to_the_start_input() -> None:
    acc = Accumulator()
    start(acc, {"path": "a.txt"})
    acc.tool_args(1, '{"path": "a.txt"}{"pa')
    call = acc.response().tool_calls[0]
    assert (call.arguments, call.parse_error) == ({"path": "a.txt"}, None)
    assert call.raw_arguments == '{"path": "a.txt"}'


@pytest.mark.parametrize("fragments", [[], [""], ["", "  "]])
def test_blank_buffer_gives_the_start_input(fragments: list[str]) -> None:
    acc = Accumulator()
    start(acc, {"q": "x"})
    for fragment in fragments:
        acc.tool_args(1, fragment)
    assert calls(acc) == [("toolu_1", "read", {"q": "x"}, None)]


def test_non_blank_buffer_wins_over_the_start_input() -> None:
    acc = Accumulator()
    start(acc, {})
    acc.tool_args(1, "")
    acc.tool_args(1, '{"city": "San ')
    acc.tool_args(1, 'Francisco"}')
    assert calls(acc) == [("toolu_1", "read", {"city": "San Francisco"}, None)]


def test_empty_start_and_broken_deltas_are_malformed_not_an_empty_call() -> None:
    acc = Accumulator()
    start(acc, {})
    acc.tool_args(1, '{"path":"a.txt"')
    call = acc.response().tool_calls[0]
    assert call.arguments == {} and call.raw_arguments == '{"path":"a.txt"' and call.parse_error


# -- finish, usage, errors ------------------------------------------------------------------------------


def test_latest_finish_wins_and_null_never_erases_it() -> None:
    acc = Accumulator()
    acc.finish("length", "length")
    acc.finish("length", "length")
    response = acc.response()
    assert (response.finish_reason, response.raw_finish_reason) == ("length", "length")


def test_usage_replaces_given_counts_only() -> None:
    acc = Accumulator()
    acc.usage(702, 1)
    acc.usage(None, 85)
    assert acc.response().usage == Usage(702, 85)
    acc.usage(1591, 175)
    acc.usage("x", True)  # junk is ignored
    assert acc.response().usage == Usage(1591, 175)


def test_first_error_wins_and_sets_finish_error() -> None:
    acc = Accumulator()
    acc.finish("length", "length")
    assert acc.fail("stream_error", "Token limit reached") == [StreamFailed(acc.response().error)]  # type: ignore[arg-type]
    assert acc.fail("invalid_json", "later") == []
    acc.finish("stop", "stop")
    response = acc.response()
    assert response.finish_reason == "error"
    assert response.error is not None and response.error.category == "stream_error"
    assert acc.finished_event() == []


def test_finished_event_carries_finish_and_usage() -> None:
    acc = Accumulator()
    assert acc.finished_event() == []
    acc.finish("stop", "end_turn")
    acc.usage(3, 4)
    assert acc.finished_event() == [Finished("stop", "end_turn", Usage(3, 4))]


def test_close_tool_calls_emits_done_once() -> None:
    acc = Accumulator()
    acc.tool_call(0, id="a", name="f")
    first = acc.close_tool_calls()
    assert len(first) == 1 and isinstance(first[0], ToolCallDone)
    assert acc.close_tool_calls() == []
    assert acc.tool_done(0) == []


def test_a_nested_object_fragment_is_no_fallback_for_a_cut_buffer() -> None:
    acc = Accumulator()
    for fragment in ('{"a": ', '{"b": 1}', ', "c": '):  # the stream ends inside the arguments
        acc.tool_args(0, fragment)
    call = acc.response().tool_calls[0]
    assert call.arguments == {} and call.raw_arguments == '{"a": {"b": 1}, "c": ' and call.parse_error


# -- re-sent calls (found by the shipped matrix's duplicate_tool_args cells) ---------------------------


def test_whole_arguments_sent_twice_are_one_object() -> None:
    from agent_runtime.wire.accumulator import repeated_object

    assert repeated_object('{"a":1}{"a":1}') == {"a": 1}
    assert repeated_object('{"a":1} {"a":1}\n{"a":1}') == {"a": 1}
    assert repeated_object('{"a":1}{"a":2}') is None  # two different objects: malformed, not guessed
    assert repeated_object('{"a":1}') is None and repeated_object('{"a":1}{"a"') is None


def test_non_streamed_repeated_arguments_parse_to_the_object() -> None:
    from agent_runtime.wire.protocols.openai_chat import parse_response

    body = {
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}{"a":1}'}}
                    ],
                },
            }
        ]
    }
    call = parse_response(body).tool_calls[0]
    assert call.arguments == {"a": 1} and call.parse_error is None


def test_a_tool_use_block_sent_twice_is_one_call() -> None:
    from agent_runtime.wire.protocols.anthropic_messages import parse_response

    block = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}}
    other = {"type": "tool_use", "id": "toolu_2", "name": "f", "input": {"a": 1}}
    body = {"type": "message", "content": [block, dict(block), other], "stop_reason": "tool_use"}
    calls = parse_response(body).tool_calls
    assert [c.id for c in calls] == ["toolu_1", "toolu_2"]
