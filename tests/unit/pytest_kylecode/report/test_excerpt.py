"""What a cell hands the report: headline metrics of a snapshot, a transcript excerpt."""

from __future__ import annotations

from agent_runtime.messages import AssistantMessage, SystemMessage, ToolCall, ToolResult, UserMessage
from pytest_kylecode.report.excerpt import headline_metrics, transcript_excerpt


def test_headline_metrics_take_the_summary_and_the_slowest_call() -> None:
    snapshot = {
        "summary": {"calls": 4, "errors": 1, "retries": 1, "fallbacks": 1, "input_tokens": 90, "output_tokens": 9},
        "routes": {
            "a/x": {"latency_ms": {"p50": 10.0, "p95": 40.0, "max": 41.5}},
            "b/y": {"latency_ms": {"p50": None, "p95": None, "max": None}},
        },
    }
    assert headline_metrics(snapshot) == {
        "calls": 4,
        "errors": 1,
        "retries": 1,
        "fallbacks": 1,
        "latency_ms": 41.5,
        "input_tokens": 90,
        "output_tokens": 9,
    }
    assert headline_metrics({})["latency_ms"] is None


def test_the_excerpt_keeps_the_task_and_the_end_and_cuts_long_texts() -> None:
    conversation = [SystemMessage("you are an agent"), UserMessage("list the files")]
    for i in range(10):
        call = ToolCall(id=f"c{i}", name="read_file", arguments={"path": f"f{i}"}, raw_arguments=f'{{"path":"f{i}"}}')
        conversation += [AssistantMessage(tool_calls=[call]), ToolResult(f"c{i}", "read_file", "x" * 1000)]
    excerpt = transcript_excerpt(conversation)
    assert excerpt[0] == {"role": "user", "text": "list the files"}
    assert excerpt[1] == {"role": "gap", "text": "[12 messages not shown]"}
    assert len(excerpt) == 10
    assert excerpt[-2] == {"role": "assistant", "text": '-> read_file({"path":"f9"})'}
    assert excerpt[-1]["text"].endswith(" [...]") and len(excerpt[-1]["text"]) < 420
    short = transcript_excerpt([UserMessage("go"), ToolResult("c", "run_shell", "boom", is_error=True)])
    assert short == [{"role": "user", "text": "go"}, {"role": "tool error", "text": "run_shell: boom"}]
