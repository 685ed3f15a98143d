from __future__ import annotations

from typing import Any

import pytest

from agent_runtime.errors import ConfigError
from pytest_kylecode.emulator import ScriptedCall, ScriptedUsage, Turn, parse_script, pick_turn


def test_parse_full_script() -> None:
    script = parse_script(
        [
            {"tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]},
            {
                "text": "Two files.",
                "reasoning": "Listing done.",
                "finish": "stop",
                "usage": {"input_tokens": 120, "output_tokens": 30},
                "tool_calls": [{"name": "write_file", "raw_arguments": '{"path": "a.txt"'}, {"name": "noop"}],
            },
        ]
    )
    assert script == [
        Turn(tool_calls=(ScriptedCall("list_dir", {"path": "."}),)),
        Turn(
            text="Two files.",
            reasoning="Listing done.",
            finish="stop",
            usage=ScriptedUsage(120, 30),
            tool_calls=(ScriptedCall("write_file", raw_arguments='{"path": "a.txt"'), ScriptedCall("noop", {})),
        ),
    ]


def test_partial_usage_keeps_the_other_count_derived() -> None:
    (turn,) = parse_script([{"text": "x", "usage": {"output_tokens": 3}}])
    assert turn.usage == ScriptedUsage(input_tokens=None, output_tokens=3)


BAD: list[tuple[Any, str, str]] = [
    ([], "script", "expected a non-empty list of turns"),
    ("go", "script", "got str 'go'"),
    ([{}], "script[0]", "needs a non-empty 'text' or at least one entry in 'tool_calls'"),
    ([{"text": ""}], "script[0]", "needs a non-empty 'text'"),
    (["hello"], "script[0]", "expected a turn: a mapping"),
    ([{"txt": "a"}], "script[0].txt", "unknown key 'txt' (did you mean 'text'?)"),
    ([{"text": 5}], "script[0].text", "expected a string; got int 5"),
    ([{"text": "a", "reasoning": ["x"]}], "script[0].reasoning", "expected a string"),
    (
        [{"text": "a"}, {"tool_calls": [{"name": ""}]}],
        "script[1].tool_calls[0].name",
        "expected the tool's name, a non-empty string",
    ),
    ([{"tool_calls": [{"arguments": {}}]}], "script[0].tool_calls[0].name", "got nothing (null)"),
    ([{"tool_calls": {"name": "x"}}], "script[0].tool_calls", "expected a list of tool calls"),
    ([{"tool_calls": []}], "script[0]", "at least one entry in 'tool_calls'"),
    ([{"tool_calls": ["list_dir"]}], "script[0].tool_calls[0]", "expected a tool call: a mapping"),
    (
        [{"tool_calls": [{"name": "x", "arguments": [1]}]}],
        "script[0].tool_calls[0].arguments",
        "expected a mapping of argument names to values (use raw_arguments",
    ),
    ([{"tool_calls": [{"name": "x", "arguments": {}, "raw_arguments": "{"}]}], "script[0].tool_calls[0]", "not both"),
    (
        [{"tool_calls": [{"name": "x", "raw_arguments": {"a": 1}}]}],
        "script[0].tool_calls[0].raw_arguments",
        "expected a string sent verbatim",
    ),
    ([{"tool_calls": [{"name": "x", "args": {}}]}], "script[0].tool_calls[0].args", "unknown key 'args'"),
    (
        [{"text": "a", "finish": "done"}],
        "script[0].finish",
        "expected one of stop, length, content_filter; got str 'done'",
    ),
    ([{"text": "a", "finish": "stpo"}], "script[0].finish", "(did you mean 'stop'?)"),
    ([{"text": "a", "finish": "tool_calls"}], "script[0].finish", "expected one of stop, length, content_filter"),
    ([{"text": "a", "usage": 5}], "script[0].usage", "expected a mapping {input_tokens, output_tokens}"),
    ([{"text": "a", "usage": {"input_tokens": -1}}], "script[0].usage.input_tokens", "a non-negative integer"),
    ([{"text": "a", "usage": {"output_tokens": True}}], "script[0].usage.output_tokens", "got bool True"),
    ([{"text": "a", "usage": {"input_token": 1}}], "script[0].usage.input_token", "did you mean 'input_tokens'?"),
]


@pytest.mark.parametrize(("data", "key", "fragment"), BAD, ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(BAD)])
def test_invalid_script_names_key_path_and_expectation(data: Any, key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_script(data)
    assert info.value.key == key
    assert fragment in str(info.value)
    assert str(info.value).startswith(f"{key}: ")


def test_key_prefix_is_the_callers() -> None:
    with pytest.raises(ConfigError) as info:
        parse_script([{"text": "a"}, {"tool_calls": [{"name": 3}]}], key="cells[2].script")
    assert info.value.key == "cells[2].script[1].tool_calls[0].name"


# -- turn selection ---------------------------------------------------------------------------------


def test_past_the_end_the_last_turn_repeats() -> None:
    script = parse_script([{"text": "one"}, {"text": "two"}])
    assert [pick_turn(script, i).text for i in range(5)] == ["one", "two", "two", "two", "two"]
