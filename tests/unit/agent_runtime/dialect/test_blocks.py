"""The text dialect's call blocks: formatting, and parsing them back out of a reply."""

from __future__ import annotations

import pytest

from agent_runtime import dialect
from agent_runtime.dialect import (
    ParsedCall,
    format_tool_call,
    parse_tool_calls,
)
from agent_runtime.messages import ToolCall


def test_parse_round_trips_format_tool_call():
    text = "I will look.\n" + format_tool_call("list_dir", {"path": "src", "depth": 1}) + "\nThen read."
    rest, calls = parse_tool_calls(text)
    assert calls == [ParsedCall("list_dir", {"depth": 1, "path": "src"}, '{"depth": 1, "path": "src"}')]
    assert rest == "I will look.\n\nThen read."


def test_parse_several_blocks_in_order_and_text_between():
    text = "\n\n".join(
        [
            "First.",
            format_tool_call("list_dir", {"path": "."}),
            "Middle.",
            format_tool_call("read_file", {"path": "b"}),
        ]
    )
    rest, calls = parse_tool_calls(text)
    assert [c.name for c in calls] == ["list_dir", "read_file"]
    assert [c.arguments for c in calls] == [{"path": "."}, {"path": "b"}]
    assert rest == "First.\n\nMiddle."


def test_text_without_blocks_is_returned_stripped():
    assert parse_tool_calls("  just text\nDONE\n") == ("just text\nDONE", [])


def test_invalid_json_block_is_kept_as_malformed_call_with_name_and_raw_arguments():
    block = format_tool_call("write_file", '{"path": "a.txt", "content": "x')
    rest, calls = parse_tool_calls("Writing.\n" + block)
    assert rest == "Writing."
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "write_file"
    assert call.arguments == {}
    assert call.raw_arguments == '{"path": "a.txt", "content": "x'
    assert call.parse_error and "invalid JSON" in call.parse_error
    # Rendered back, the malformed block is exactly what the model wrote.
    assert dialect.format_call_block(call.to_tool_call("x")) == block


@pytest.mark.parametrize(
    "body, error_fragment",
    [
        ('{"arguments": {"path": "."}}', '"name"'),
        ('{"name": "list_dir"}', "missing"),
        ('{"name": "list_dir", "arguments": [1, 2]}', "a list"),
        ('["list_dir"]', "JSON object"),
        ("not json at all", "invalid JSON"),
    ],
)
def test_block_lacking_name_or_arguments_is_a_malformed_call(body, error_fragment):
    rest, calls = parse_tool_calls(f"<tool_call>\n{body}\n</tool_call>")
    assert rest == ""
    assert len(calls) == 1
    assert calls[0].parse_error is not None and error_fragment in calls[0].parse_error


def test_stringified_arguments_object_is_accepted():
    _, calls = parse_tool_calls('<tool_call>{"name": "read_file", "arguments": "{\\"path\\": \\"a\\"}"}</tool_call>')
    assert calls[0].parse_error is None
    assert calls[0].arguments == {"path": "a"}


def test_unterminated_block_is_a_malformed_call_not_lost():
    rest, calls = parse_tool_calls('Start.\n<tool_call>\n{"name": "list_dir", "arguments": {"path": "."}')
    assert rest == "Start."
    assert len(calls) == 1
    assert calls[0].name == "list_dir"
    assert "unterminated" in calls[0].parse_error


def test_parsed_call_to_tool_call_copies_arguments():
    parsed = ParsedCall("read_file", {"path": "a"}, '{"path": "a"}')
    call = parsed.to_tool_call("call_t1_1")
    assert call == ToolCall("call_t1_1", "read_file", {"path": "a"}, '{"path": "a"}', None)
    call.arguments["path"] = "b"
    assert parsed.arguments == {"path": "a"}
