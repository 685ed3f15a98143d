"""ScriptedModel, the test double shipped for users: turns, failures, text mode, recording."""

from __future__ import annotations

import pytest

from agent_runtime.dialect import format_tool_call
from agent_runtime.errors import RunFailed
from agent_runtime.loop.model import Model
from agent_runtime.messages import UserMessage
from agent_runtime.testing import ScriptedModel, ScriptedTurn

CONV = [UserMessage("hi")]


def test_plays_turns_in_order_then_repeats_the_last():
    model: Model = ScriptedModel([{"text": "one"}, ScriptedTurn(text="two")], route="p/m")
    texts = [model.complete(CONV, [], n).response.text for n in (1, 2, 3)]
    assert texts == ["one", "two", "two"]
    turn = model.complete(CONV, [], 4)
    assert (turn.route, turn.tool_mode, turn.response.finish_reason) == ("p/m", "native", "stop")


def test_native_calls_ids_and_raw_arguments():
    model = ScriptedModel(
        [
            {
                "tool_calls": [
                    {"name": "a", "arguments": {"x": 1}},
                    {"name": "b", "arguments": '{"y": 2}', "id": ""},
                    {"name": "c", "arguments": "{broken"},
                ]
            }
        ]
    )
    response = model.complete(CONV, [], 1).response
    a, b, c = response.tool_calls
    assert (a.id, a.arguments, a.parse_error) == ("scripted_1_1", {"x": 1}, None)
    assert (b.id, b.arguments, b.raw_arguments) == ("", {"y": 2}, '{"y": 2}')
    assert (c.arguments, c.raw_arguments) == ({}, "{broken") and c.parse_error
    assert response.finish_reason == "tool_calls"


def test_text_mode_writes_call_blocks_like_the_emulator():
    model = ScriptedModel(
        [{"text": "Look.", "tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]}], tool_mode="text"
    )
    turn = model.complete(CONV, [], 1)
    assert turn.tool_mode == "text" and turn.response.tool_calls == []
    assert turn.response.text == "Look.\n\n" + format_tool_call("list_dir", {"path": "."})
    assert turn.response.finish_reason == "stop"


def test_fail_at_raises_run_failed_and_records_the_call():
    model = ScriptedModel([{"text": "ok"}], fail_at={2: "rate_limit", 3: RunFailed("auth", "bad key")})
    model.complete(CONV, [], 1)
    with pytest.raises(RunFailed) as first:
        model.complete(CONV, [], 2)
    assert first.value.category == "rate_limit"
    with pytest.raises(RunFailed, match="bad key"):
        model.complete(CONV, [], 3)
    assert model.calls == 3 and model.turns_seen == [1, 2, 3]


def test_records_copies_of_conversations_and_requests():
    model = ScriptedModel([{"text": "ok"}])
    conv = list(CONV)
    model.complete(conv, [], 1)
    conv.append(UserMessage("later"))
    assert model.conversations == [CONV]
    assert model.requests[0].messages == CONV and model.requests[0].tools is None


def test_bad_scripts_are_rejected():
    with pytest.raises(ValueError, match="at least one turn"):
        ScriptedModel([])
    with pytest.raises(ValueError, match="unknown keys"):
        ScriptedModel([{"txt": "typo"}])
