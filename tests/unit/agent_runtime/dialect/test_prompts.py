"""The text dialect's requests: the conversation prepared for one call in either tool mode."""

from __future__ import annotations

import json

from agent_runtime import dialect
from agent_runtime.dialect import (
    format_tool_call,
    format_tool_result,
    parse_tool_calls,
    prepare_request,
    render_tools_prompt,
)
from agent_runtime.messages import AssistantMessage, SystemMessage, ToolCall, ToolResult, ToolSpec, UserMessage

TOOLS = [
    ToolSpec("list_dir", "List a directory.", {"type": "object", "properties": {"path": {"type": "string"}}}),
    ToolSpec(
        "read_file",
        "Read a file.",
        {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}},
    ),
]


def conversation():
    return [
        SystemMessage("You are an agent."),
        UserMessage("List the files."),
        AssistantMessage(
            text="Looking.",
            tool_calls=[
                ToolCall("c1", "list_dir", {"path": "."}, '{"path": "."}'),
                ToolCall("c2", "read_file", {"path": "a.txt"}, '{"path": "a.txt"}'),
            ],
        ),
        ToolResult("c1", "list_dir", "a.txt"),
        ToolResult("c2", "read_file", "no such file: a.txt", is_error=True),
        AssistantMessage(text="Done."),
    ]


def test_native_request_passes_messages_and_tools_through():
    conv = conversation()
    req = prepare_request(conv, TOOLS, "native", stream=True, max_tokens=99)
    assert req.messages == conv and req.messages is not conv
    assert req.tools == TOOLS
    assert (req.stream, req.max_tokens) == (True, 99)


def test_native_request_without_tools_sends_none():
    assert prepare_request(conversation(), [], "native", stream=False, max_tokens=10).tools is None


def test_text_request_renders_tools_calls_and_results():
    conv = conversation()
    req = prepare_request(conv, TOOLS, "text", stream=False, max_tokens=10)
    assert req.tools is None
    system, user, assistant, results, final = req.messages
    assert isinstance(system, SystemMessage)
    assert system.content.startswith("You are an agent.\n\n# Tools")
    for spec in TOOLS:
        assert f"## {spec.name}" in system.content
        assert json.dumps(spec.parameters, sort_keys=True) in system.content
    assert "<tool_call>" in system.content and "</tool_call>" in system.content
    assert user == UserMessage("List the files.")
    assert isinstance(assistant, AssistantMessage) and assistant.tool_calls == []
    assert assistant.text == (
        "Looking.\n\n"
        + format_tool_call("list_dir", {"path": "."})
        + "\n"
        + format_tool_call("read_file", {"path": "a.txt"})
    )
    # Both results of the turn travel in one user message, in call order.
    assert results == UserMessage(
        '<tool_result id="c1" name="list_dir">\na.txt\n</tool_result>\n\n'
        '<tool_result id="c2" name="read_file" error="true">\nno such file: a.txt\n</tool_result>'
    )
    assert final == AssistantMessage(text="Done.")
    # The canonical conversation is untouched.
    assert conv == conversation()


def test_text_request_round_trips_through_the_parser():
    req = prepare_request(conversation(), TOOLS, "text", stream=False, max_tokens=10)
    rest, calls = parse_tool_calls(req.messages[2].text)
    assert rest == "Looking."
    assert [(c.name, c.arguments) for c in calls] == [("list_dir", {"path": "."}), ("read_file", {"path": "a.txt"})]


def test_text_request_inserts_system_message_when_missing():
    req = prepare_request([UserMessage("hi")], TOOLS, "text", stream=False, max_tokens=10)
    assert isinstance(req.messages[0], SystemMessage)
    assert req.messages[0].content == render_tools_prompt(TOOLS)
    assert req.messages[1] == UserMessage("hi")


def test_text_request_is_deterministic_whatever_the_key_order():
    shuffled = [ToolSpec(t.name, t.description, dict(reversed(list(t.parameters.items())))) for t in TOOLS]
    conv = conversation()
    conv[2].tool_calls[0] = ToolCall("c1", "list_dir", {"b": 1, "a": 2})
    other = conversation()
    other[2].tool_calls[0] = ToolCall("c1", "list_dir", {"a": 2, "b": 1})
    a = prepare_request(conv, TOOLS, "text", stream=False, max_tokens=10)
    b = prepare_request(other, shuffled, "text", stream=False, max_tokens=10)
    assert a == b


def test_tool_result_attributes_are_json_quoted():
    block = format_tool_result(ToolResult('we"ird', "n", "body"))
    assert block.splitlines()[0] == '<tool_result id="we\\"ird" name="n">'


def test_templates_are_compiled_once(monkeypatch):
    render_tools_prompt(TOOLS)
    compiled = dialect.prompts._template("tools_prompt.j2")
    env = dialect.prompts._environment()

    def forbidden(*args, **kwargs):
        raise AssertionError("template loaded again")

    monkeypatch.setattr(env, "get_template", forbidden)
    prepare_request(conversation(), TOOLS, "text", stream=False, max_tokens=10)
    assert dialect.prompts._template("tools_prompt.j2") is compiled


def test_malformed_call_is_rendered_back_with_its_raw_arguments():
    conv = [
        SystemMessage("s"),
        AssistantMessage(tool_calls=[ToolCall("c1", "write_file", {}, '{"path": ', "invalid JSON")]),
        ToolResult("c1", "write_file", "malformed tool call: invalid JSON", is_error=True),
    ]
    req = prepare_request(conv, TOOLS, "text", stream=False, max_tokens=10)
    assert req.messages[1].text == format_tool_call("write_file", '{"path": ')


def test_block_without_name_gets_a_placeholder_name_and_renders_back_verbatim():
    body = '{"tool": "list_dir", "args": {}}'
    _, [parsed] = parse_tool_calls(f"<tool_call>\n{body}\n</tool_call>")
    assert parsed.name == ""
    call = parsed.to_tool_call("c9")
    assert call.name == dialect.UNNAMED_CALL  # never an empty function name on a native route
    conv = [SystemMessage("s"), AssistantMessage(tool_calls=[call]), ToolResult("c9", call.name, "bad", is_error=True)]
    req = prepare_request(conv, TOOLS, "text", stream=False, max_tokens=10)
    assert req.messages[1].text == f"<tool_call>\n{body}\n</tool_call>"
