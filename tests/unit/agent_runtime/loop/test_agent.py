"""The agent loop, driven by ScriptedModel: modes, pairing, ids, guards, failures, completion config."""

from __future__ import annotations

import threading

import pytest

from agent_runtime.config import AgentConfig, CompletionConfig, LoopGuardConfig, ToolsConfig
from agent_runtime.dialect import format_tool_call
from agent_runtime.errors import ProviderError, RunFailed
from agent_runtime.loop.agent import Agent, RunResult, calls_paired
from agent_runtime.loop.model import ModelTurn
from agent_runtime.loop.tools import WORKSPACE_TOOLS, Tool
from agent_runtime.messages import (
    AssistantMessage,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolResult,
    ToolSpec,
    UserMessage,
)
from agent_runtime.testing import ScriptedModel


def call(name, **arguments):
    return {"name": name, "arguments": arguments}


FINISH = call("mark_task_complete", summary="wrote greeting.txt")
SCRIPT = [
    {"tool_calls": [call("list_dir", path=".")]},
    {"text": "Writing it.", "tool_calls": [call("write_file", path="greeting.txt", content="hello\n")]},
    {"text": "Done.", "tool_calls": [FINISH]},
]


@pytest.fixture
def ws(tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    (root / "README.md").write_text("# demo\n")
    return root


DEFAULTS = AgentConfig()


def run(ws, turns, config=DEFAULTS, task="Write greeting.txt.", **model_kw) -> tuple[RunResult, ScriptedModel]:
    model = ScriptedModel(turns, **model_kw)
    return Agent(config, model, ws).run(task), model


def results_of(result):
    return [m for m in result.conversation if isinstance(m, ToolResult)]


def assistant_turns(result):
    return [m for m in result.conversation if isinstance(m, AssistantMessage)]


# -- the happy path in both tool modes -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["native", "text"])
def test_multi_turn_run_completes_by_tool(ws, mode):
    result, model = run(ws, SCRIPT, tool_mode=mode, route="emu/m1")
    assert result.outcome == "completed"
    assert result.completion_reason == "tool_finish"
    assert (result.error_category, result.error_message) == (None, None)
    assert result.steps == 3
    assert result.tool_sequence == ["list_dir", "write_file", "mark_task_complete"]
    assert result.tool_errors == 0 and result.malformed_calls == 0
    assert result.tool_calls_paired is True
    assert result.final_route == "emu/m1"
    assert result.summary == "wrote greeting.txt"
    assert result.metrics is None
    assert (ws / "greeting.txt").read_text() == "hello\n"
    assert model.turns_seen == [1, 2, 3]
    # The loop sends the growing conversation: system, task, then assistant/result turns.
    first = model.conversations[0]
    assert isinstance(first[0], SystemMessage) and "mark_task_complete" in first[0].content
    assert first[1] == UserMessage("Write greeting.txt.")
    second = model.conversations[1]
    assert [m.kind for m in second] == ["system", "user", "assistant", "tool_result"]
    assert second[3].content == "README.md"
    # Canonical conversation: assistant text without call blocks, calls as ToolCalls.
    texts = [m.text for m in assistant_turns(result)]
    assert texts == ["", "Writing it.", "Done."]
    assert [len(m.tool_calls) for m in assistant_turns(result)] == [1, 1, 1]


def test_text_mode_calls_are_parsed_and_rendered_back_as_text(ws):
    result, model = run(ws, SCRIPT, tool_mode="text")
    ids = [c.id for m in assistant_turns(result) for c in m.tool_calls]
    assert ids == ["call_t1_1", "call_t2_1", "call_t3_1"]
    last = model.requests[2]
    assert last.tools is None
    assert "## write_file" in last.messages[0].content
    assert last.messages[4].text == "Writing it.\n\n" + format_tool_call(
        "write_file", {"content": "hello\n", "path": "greeting.txt"}
    )
    assert last.messages[5] == UserMessage(
        '<tool_result id="call_t2_1" name="write_file">\nwrote 6 bytes to greeting.txt\n</tool_result>'
    )


def test_requests_are_reproducible_in_any_workspace(tmp_path):
    script = [{"tool_calls": [call("run_shell", command="pwd; ls"), call("list_dir")]}, {"tool_calls": [FINISH]}]
    requests = []
    for name in ("one", "two-longer-name"):
        root = tmp_path / name
        root.mkdir()
        (root / "a.txt").write_text("a")
        _, model = run(root, script, tool_mode="text")
        requests.append(model.requests)
    assert requests[0] == requests[1]
    assert "exit code: 0\n.\na.txt" in requests[0][1].messages[-1].content


# -- parallel calls, ids, pairing ------------------------------------------------------------------


def test_parallel_calls_each_get_a_result_in_call_order(ws):
    (ws / "b.txt").write_text("B")
    turn = {"tool_calls": [call("read_file", path="README.md"), call("list_dir"), call("read_file", path="b.txt")]}
    result, _ = run(ws, [turn, {"tool_calls": [FINISH]}])
    got = [(r.name, r.content) for r in results_of(result)][:3]
    assert got == [("read_file", "# demo\n"), ("list_dir", "README.md\nb.txt"), ("read_file", "B")]
    assert [r.call_id for r in results_of(result)][:3] == ["scripted_1_1", "scripted_1_2", "scripted_1_3"]
    assert result.tool_sequence == ["read_file", "list_dir", "read_file", "mark_task_complete"]


def test_tool_concurrency_keeps_order(ws):
    barrier = threading.Barrier(3)
    order = []

    def gated(ctx, args):
        barrier.wait(timeout=5)  # all three must be in flight together, or this times out
        order.append(args["k"])
        return args["k"]

    def finish(ctx, args):
        return "ok"

    schema = {"type": "object", "properties": {"k": {"type": "string"}}}
    tools = [Tool(ToolSpec("gated", "", schema), gated, blocking=False), WORKSPACE_TOOLS[-1]]
    turn = {"tool_calls": [{"name": "gated", "arguments": {"k": k}} for k in "abc"]}
    model = ScriptedModel([turn, {"tool_calls": [FINISH]}])
    result = Agent(AgentConfig(tools=ToolsConfig(max_parallel=3)), model, ws, tools=tools).run("t")
    assert [r.content for r in results_of(result)] == ["a", "b", "c", "Task marked complete."]
    assert result.tool_sequence == ["gated", "gated", "gated", "mark_task_complete"]
    assert result.outcome == "completed" and result.tool_errors == 0


def test_missing_ids_are_synthesized_and_stable(ws):
    turns = [
        {"tool_calls": [{**call("list_dir"), "id": ""}, {**call("read_file", path="README.md"), "id": ""}]},
        {"tool_calls": [{**FINISH, "id": ""}]},
    ]
    first, _ = run(ws, turns)
    second, _ = run(ws, turns)
    ids = [c.id for m in assistant_turns(first) for c in m.tool_calls]
    assert ids == ["call_t1_1", "call_t1_2", "call_t2_1"]
    assert [r.call_id for r in results_of(first)] == ids
    assert first.conversation == second.conversation
    assert first.tool_calls_paired


def test_the_models_response_is_not_mutated(ws):
    response = ModelResponse(tool_calls=[ToolCall("", "list_dir", {})], finish_reason="tool_calls")

    class Fixed:
        def complete(self, conversation, tools, turn):
            return ModelTurn(response, "r/m", "native")

    result = Agent(AgentConfig(max_steps=2), Fixed(), ws).run("t")
    assert response.tool_calls[0].id == ""
    assert [c.id for m in assistant_turns(result) for c in m.tool_calls] == ["call_t1_1", "call_t2_1"]


def test_duplicate_ids_are_made_unique_deterministically(ws):
    turns = [
        {"tool_calls": [{**call("list_dir"), "id": "dup"}, {**call("read_file", path="README.md"), "id": "dup"}]},
        {"tool_calls": [{**call("list_dir"), "id": "dup"}]},
        {"tool_calls": [FINISH]},
    ]
    result, _ = run(ws, turns)
    ids = [c.id for m in assistant_turns(result) for c in m.tool_calls]
    assert ids == ["dup", "dup_2", "dup_3", "scripted_3_1"]
    assert [r.call_id for r in results_of(result)] == ids
    assert result.tool_calls_paired


def test_malformed_calls_are_paired_with_error_results(ws):
    turns = [
        {
            "tool_calls": [
                {"name": "write_file", "arguments": '{"path": "x.txt", "content": '},  # invalid JSON
                call("delete_everything"),  # unknown tool
                call("read_file", path=7),  # schema violation
                call("list_dir"),  # fine
            ]
        },
        {"tool_calls": [FINISH]},
    ]
    result, model = run(ws, turns)
    assert result.outcome == "completed"
    errors = [r for r in results_of(result) if r.is_error]
    assert [r.call_id for r in errors] == ["scripted_1_1", "scripted_1_2", "scripted_1_3"]
    assert all(r.content.startswith("malformed tool call: ") for r in errors)
    assert "unknown tool 'delete_everything'" in errors[1].content
    assert "invalid arguments for read_file: argument 'path' must be a string, got 7" in errors[2].content
    assert result.tool_errors == 3 and result.malformed_calls == 3
    assert result.tool_sequence == ["list_dir", "mark_task_complete"]
    assert result.tool_calls_paired
    assert not (ws / "x.txt").exists()
    # The model saw all four results before its next turn.
    assert [m.kind for m in model.conversations[1][-4:]] == ["tool_result"] * 4


def test_malformed_text_blocks_are_paired_too(ws):
    turns = [
        {"text": 'Trying.\n<tool_call>\n{not json}\n</tool_call>\n<tool_call>{"name": "list_dir"}'},
        {"tool_calls": [FINISH]},
    ]
    result, model = run(ws, turns, tool_mode="text")
    first = assistant_turns(result)[0]
    assert first.text == "Trying."
    assert [c.id for c in first.tool_calls] == ["call_t1_1", "call_t1_2"]
    assert all(c.parse_error for c in first.tool_calls)
    assert [r.is_error for r in results_of(result)] == [True, True, False]
    assert result.tool_calls_paired and result.outcome == "completed"
    assert 'error="true"' in model.requests[1].messages[-1].content


def test_tool_exceptions_do_not_escape(ws):
    def broken(ctx, args):
        raise OSError("disk on fire")

    tools = [Tool(ToolSpec("broken", "", {"type": "object"}), broken), WORKSPACE_TOOLS[-1]]
    model = ScriptedModel([{"tool_calls": [{"name": "broken", "arguments": {}}]}, {"tool_calls": [FINISH]}])
    result = Agent(AgentConfig(), model, ws, tools=tools).run("t")
    assert result.outcome == "completed"
    assert results_of(result)[0].content == "broken failed: OSError: disk on fire"
    assert result.tool_errors == 1 and result.malformed_calls == 0
    assert result.tool_sequence == ["broken", "mark_task_complete"]


def test_calls_paired_detects_missing_and_extra_results():
    a = AssistantMessage(tool_calls=[ToolCall("1", "x", {}), ToolCall("2", "x", {})])
    assert calls_paired([a, ToolResult("1", "x", ""), ToolResult("2", "x", "")])
    assert not calls_paired([a, ToolResult("1", "x", "")])
    assert not calls_paired([a, ToolResult("1", "x", ""), ToolResult("2", "x", ""), ToolResult("2", "x", "")])
    assert not calls_paired([a, ToolResult("1", "x", ""), ToolResult("2", "x", ""), ToolResult("3", "x", "")])
    assert not calls_paired([AssistantMessage(tool_calls=[ToolCall("", "x", {})]), ToolResult("", "x", "")])


# -- guards and failures ---------------------------------------------------------------------------


def test_malformed_repeats_trip_the_loop_guard(ws):
    bad = {"tool_calls": [{"name": "write_file", "arguments": "{broken"}]}
    result, model = run(ws, [bad])
    assert result.outcome == "loop_guard"
    assert result.error_category == "malformed_tool_call"
    assert "malformed call to 'write_file'" in result.error_message and "3 turns in a row" in result.error_message
    assert result.steps == 3 == model.calls
    assert result.tool_errors == 3 and result.tool_calls_paired


def test_malformed_guard_counts_only_consecutive_identical_calls(ws):
    a = {"tool_calls": [{"name": "write_file", "arguments": "{broken"}]}
    b = {"tool_calls": [{"name": "write_file", "arguments": "{other"}]}
    result, _ = run(ws, [a, b, a, b, a, b], config=AgentConfig(max_steps=6))
    assert result.outcome == "max_steps"
    assert result.steps == 6 and result.tool_errors == 6


def test_identical_repeats_trip_the_loop_guard(ws):
    result, _ = run(ws, [{"tool_calls": [call("list_dir", path=".")]}])
    assert result.outcome == "loop_guard"
    assert result.error_category == "malformed_tool_call"
    assert "the same call list_dir" in result.error_message and "5 times in a row" in result.error_message
    assert result.steps == 5
    assert result.tool_sequence == ["list_dir"] * 5 and result.tool_calls_paired


def test_loop_guard_config_is_read(ws):
    config = AgentConfig(loop_guard=LoopGuardConfig(malformed_repeats=2, identical_repeats=2))
    same = run(ws, [{"tool_calls": [call("list_dir")]}], config=config)[0]
    assert (same.outcome, same.steps) == ("loop_guard", 2)
    bad = run(ws, [{"tool_calls": [call("nope")]}], config=config)[0]
    assert (bad.outcome, bad.steps) == ("loop_guard", 2)
    assert "malformed call to 'nope'" in bad.error_message
    varied = [{"tool_calls": [call("list_dir", path=p)]} for p in (".", "./", ".", "./")] + [{"tool_calls": [FINISH]}]
    assert run(ws, varied, config=config)[0].outcome == "completed"


def test_max_steps_with_text_only_turns_nudges_deterministically(ws):
    result, model = run(ws, [{"text": "Thinking about it."}], config=AgentConfig(max_steps=4))
    assert result.outcome == "max_steps"
    assert result.steps == 4 == model.calls
    assert result.error_category is None and "max_steps=4" in result.error_message
    nudges = [m for m in result.conversation[2:] if isinstance(m, UserMessage)]
    assert len(nudges) == 4
    assert {m.content for m in nudges} == {
        "Continue with the task, using the tools. When the task is done, call mark_task_complete."
    }


def test_run_failed_ends_the_run_as_failed(ws):
    result, model = run(ws, SCRIPT, fail_at={2: RunFailed("rate_limit", "retries exhausted")}, route="a/b")
    assert result.outcome == "failed"
    assert (result.error_category, result.error_message) == ("rate_limit", "retries exhausted")
    assert result.steps == 1 and model.calls == 2
    assert result.final_route == "a/b"
    assert result.tool_sequence == ["list_dir"] and result.tool_calls_paired


def test_run_failed_on_first_turn_has_no_route(ws):
    result, _ = run(ws, SCRIPT, fail_at={1: "html_response"})
    assert (result.outcome, result.error_category, result.steps, result.final_route) == (
        "failed",
        "html_response",
        0,
        None,
    )


def test_run_failed_outcome_is_honoured(ws):
    result, _ = run(ws, SCRIPT, fail_at={1: RunFailed("timeout", "x", outcome="loop_guard")})
    assert result.outcome == "loop_guard"
    odd, _ = run(ws, SCRIPT, fail_at={1: RunFailed("timeout", "x", outcome="weird")})
    assert odd.outcome == "failed"


def test_provider_error_from_a_model_is_a_failed_run(ws):
    class Raising:
        def complete(self, conversation, tools, turn):
            raise ProviderError("server_error", "boom", status=500)

    result = Agent(AgentConfig(), Raising(), ws).run("t")
    assert (result.outcome, result.error_category) == ("failed", "server_error")


def test_final_route_is_the_last_successful_route(ws):
    turns = [{**SCRIPT[0], "route": "primary/m"}, {**SCRIPT[1], "route": "backup/m"}, SCRIPT[2]]
    assert run(ws, turns, route="last/m")[0].final_route == "last/m"
    assert run(ws, [*turns[:2], {**SCRIPT[2], "route": "backup/m"}])[0].final_route == "backup/m"


# -- completion config ---------------------------------------------------------------------------


def test_completion_config_is_read(ws):
    """Each completion signal works only when its switch is on (the predecessor ignored most of them)."""
    speaking = [{"text": "All done.\nTASK COMPLETE"}]
    finishing = [{"tool_calls": [FINISH]}]
    stopping = [{"text": "I have finished."}]
    limit = AgentConfig(max_steps=2)

    def outcome(turns, completion):
        result, _ = run(ws, turns, config=AgentConfig(max_steps=2, completion=completion))
        return result.outcome, result.completion_reason

    assert outcome(speaking, limit.completion) == ("max_steps", None)
    assert outcome(speaking, CompletionConfig(text_sentinels=("TASK COMPLETE",))) == ("completed", "text_sentinel")
    assert outcome(speaking, CompletionConfig(text_sentinels=("COMPLETE",))) == ("max_steps", None)
    assert outcome(finishing, CompletionConfig()) == ("completed", "tool_finish")
    assert outcome(finishing, CompletionConfig(tool_finish=False)) == ("max_steps", None)
    assert outcome(stopping, CompletionConfig()) == ("max_steps", None)
    assert outcome(stopping, CompletionConfig(provider_signals=True)) == ("completed", "provider_signal")
    assert outcome(finishing, CompletionConfig(tool_finish=False, provider_signals=True)) == ("max_steps", None)


def test_sentinel_with_tool_calls_runs_the_calls_then_completes(ws):
    config = AgentConfig(completion=CompletionConfig(tool_finish=False, text_sentinels=("DONE",)))
    result, _ = run(ws, [{"text": "Listing.\nDONE", "tool_calls": [call("list_dir")]}], config=config)
    assert (result.outcome, result.completion_reason, result.steps) == ("completed", "text_sentinel", 1)
    assert result.tool_sequence == ["list_dir"] and result.tool_calls_paired


def test_prompts_follow_the_completion_config(ws):
    config = AgentConfig(max_steps=1, completion=CompletionConfig(tool_finish=False, text_sentinels=("FIN",)))
    result, model = run(ws, [{"text": "hm"}], config=config)
    system = model.conversations[0][0].content
    assert "write FIN on a line of its own" in system and "mark_task_complete" not in system
    assert result.conversation[-1] == UserMessage(
        "Continue with the task, using the tools. When the task is done, write FIN on a line of its own."
    )
    _custom, model = run(ws, SCRIPT, config=AgentConfig(system_prompt="Be brief."))
    assert model.conversations[0][0] == SystemMessage("Be brief.")


def test_text_mode_calls_block_the_provider_signal(ws):
    config = AgentConfig(max_steps=3, completion=CompletionConfig(tool_finish=False, provider_signals=True))
    turns = [{"text": "Listing.", "tool_calls": [call("list_dir")]}, {"text": "All listed."}]
    result, _ = run(ws, turns, config=config, tool_mode="text")
    assert (result.outcome, result.completion_reason, result.steps) == ("completed", "provider_signal", 2)
    assert result.tool_sequence == ["list_dir"]
