"""What a request says: its protocol by path, and which turn of the conversation it asks for."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_kylecode.emulator import parse_script, pick_turn
from pytest_kylecode.wire.requests import protocol_for_path, turn_index

CHAT_TWO_TURNS = {
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{}"}},
                {"id": "call_2", "type": "function", "function": {"name": "read_file", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a"},
        {"role": "tool", "tool_call_id": "call_2", "content": "b"},
        {"role": "assistant", "content": "thinking out loud"},
        {"role": "user", "content": "continue"},
    ]
}


ANTHROPIC_TWO_TURNS = {
    "system": "be brief",
    "messages": [
        {"role": "user", "content": [{"type": "text", "text": "go"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "list_dir", "input": {}},
                {"type": "tool_use", "id": "t2", "name": "read_file", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "a"},
                {"type": "tool_result", "tool_use_id": "t2", "content": "b"},
            ],
        },
        {"role": "assistant", "content": "thinking out loud"},
        {"role": "user", "content": "continue"},
    ],
}


RESPONSES_TWO_TURNS = {
    "instructions": "be brief",
    "input": [
        {"role": "user", "content": "go"},
        # one turn replayed statelessly: reasoning, message and two calls are consecutive
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]},
        {"type": "function_call", "call_id": "c1", "name": "list_dir", "arguments": "{}"},
        {"type": "function_call", "call_id": "c2", "name": "read_file", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "a"},
        {"type": "function_call_output", "call_id": "c2", "output": "b"},
        {"role": "assistant", "content": "thinking out loud"},  # an EasyInputMessage without `type`
        {"role": "user", "content": "continue"},
    ],
}


@pytest.mark.parametrize(
    ("protocol", "body"),
    [
        ("openai_chat", CHAT_TWO_TURNS),
        ("anthropic_messages", ANTHROPIC_TWO_TURNS),
        ("openai_responses", RESPONSES_TWO_TURNS),
    ],
)
def test_turn_index_counts_assistant_turns(protocol: str, body: dict[str, Any]) -> None:
    assert turn_index(protocol, body) == 2


@pytest.mark.parametrize(
    ("protocol", "body"),
    [
        ("openai_chat", {"messages": [{"role": "user", "content": "go"}]}),
        ("anthropic_messages", {"messages": [{"role": "user", "content": "go"}]}),
        ("openai_responses", {"input": "go"}),
        ("openai_responses", {"input": [{"role": "user", "content": "go"}]}),
        ("openai_chat", {}),
    ],
)
def test_first_request_is_turn_zero(protocol: str, body: dict[str, Any]) -> None:
    assert turn_index(protocol, body) == 0


def test_responses_items_separated_by_outputs_are_separate_turns() -> None:
    call = {"type": "function_call", "call_id": "c", "name": "x", "arguments": "{}"}
    output = {"type": "function_call_output", "call_id": "c", "output": "ok"}
    body = {"input": [{"role": "user", "content": "go"}, call, output, call, output, call]}
    assert turn_index("openai_responses", body) == 3


def test_retry_and_fallback_get_the_same_turn() -> None:
    script = parse_script([{"text": "one"}, {"text": "two"}, {"text": "three"}])
    # A retry re-sends the same body; a fallback sends the same conversation in another protocol.
    plays = {
        pick_turn(script, turn_index(p, b)).text
        for p, b in [
            ("openai_chat", CHAT_TWO_TURNS),
            ("openai_chat", dict(CHAT_TWO_TURNS)),
            ("anthropic_messages", ANTHROPIC_TWO_TURNS),
            ("openai_responses", RESPONSES_TWO_TURNS),
        ]
    }
    assert plays == {"three"}


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="openai_chat"):
        turn_index("openai", {})


@pytest.mark.parametrize(
    ("path", "protocol"),
    [
        ("/v1/chat/completions", "openai_chat"),
        ("/api/v1/chat/completions", "openai_chat"),
        ("/api/paas/v4/chat/completions/", "openai_chat"),
        ("/v1/messages", "anthropic_messages"),
        ("/anthropic/v1/messages", "anthropic_messages"),
        ("/v1/responses", "openai_responses"),
        ("/v1/models", None),
        ("/v1/messages/count_tokens", None),
    ],
)
def test_routing_by_path_suffix(path: str, protocol: str | None) -> None:
    assert protocol_for_path(path) == protocol
