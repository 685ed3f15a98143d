"""AgentReport: the agent's account of its run, validated with messages that say what to fix."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_kylecode.byo import AgentReport
from pytest_kylecode.byo.agent_report import InvalidReport

CALLS = [
    {"id": "c1", "name": "list_dir", "arguments": {"path": "."}},
    {"id": "c2", "name": "write_file", "arguments": '{"path": "a.txt"'},
    {"id": "c3", "name": "mark_task_complete", "arguments": {"summary": "ok"}},
]
RESULTS = [{"id": "c1"}, {"id": "c2", "error": True, "executed": False}, {"id": "c3", "error": False}]


def test_derived_tool_keys_follow_the_runtime_rules() -> None:
    report = AgentReport(outcome="completed", completion_reason="tool_finish", tool_calls=CALLS, tool_results=RESULTS)
    assert report.tool_calls_paired is True
    assert report.tool_errors == 1
    assert report.tool_sequence == ["list_dir", "mark_task_complete"]  # the malformed call never ran


@pytest.mark.parametrize(
    ("calls", "results"),
    [
        (CALLS, RESULTS[:2]),  # a call without a result
        (CALLS, [*RESULTS, {"id": "c3"}]),  # two results for one call
        (CALLS, [*RESULTS, {"id": "c9"}]),  # a result for no call
        ([*CALLS, {"id": "c1", "name": "list_dir"}], [*RESULTS, {"id": "c1"}]),  # a repeated id
        ([{"id": "", "name": "list_dir"}], [{"id": ""}]),  # an empty id
    ],
)
def test_pairing_breaks(calls: list[Any], results: list[Any]) -> None:
    assert AgentReport(outcome="failed", tool_calls=calls, tool_results=results).tool_calls_paired is False


def test_a_mapping_becomes_a_report() -> None:
    report = AgentReport.coerce({"outcome": "max_steps", "steps": 8})
    assert report == AgentReport(outcome="max_steps", steps=8)
    assert AgentReport.coerce(report) is report


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"outcome": "done"},
            "AgentReport.outcome: expected one of completed, failed, max_steps, loop_guard, got 'done'",
        ),
        (
            {"outcome": "completed"},
            "a completed run says how it completed, one of tool_finish, text_sentinel, provider_signal; got None",
        ),
        ({"outcome": "failed", "completion_reason": "tool_finish"}, "only a completed run has one"),
        ({"outcome": "failed", "steps": -1}, "AgentReport.steps: expected a non-negative integer or None, got -1"),
        ({"outcome": "failed", "steps": True}, "got True"),
        ({"outcome": "failed", "error_category": "html"}, "expected a canonical category"),
        ({"outcome": "max_steps", "error_category": "timeout"}, "only failed and loop_guard runs have one"),
        ({"outcome": "failed", "tool_calls": "list_dir"}, "AgentReport.tool_calls: expected a list of mappings"),
        ({"outcome": "failed", "tool_calls": ["list_dir"]}, "AgentReport.tool_calls[0]: expected a mapping"),
        (
            {"outcome": "failed", "tool_calls": [{"id": "a", "name": "x", "args": {}}]},
            "AgentReport.tool_calls[0]: unknown key 'args'; allowed keys: id, name, arguments",
        ),
        ({"outcome": "failed", "tool_calls": [{"name": "x"}]}, "AgentReport.tool_calls[0]: missing key 'id'"),
        (
            {"outcome": "failed", "tool_calls": [{"id": "a", "name": ""}]},
            "tool_calls[0].name: expected the tool's name",
        ),
        (
            {"outcome": "failed", "tool_calls": [{"id": "a", "name": "x", "arguments": 3}]},
            "arguments: expected a mapping",
        ),
        (
            {"outcome": "failed", "tool_results": [{"id": "a", "error": "yes"}]},
            "AgentReport.tool_results[0].error: expected true or false, got 'yes'",
        ),
        ({"outcome": "failed", "error_message": 3}, "error_message: expected a string"),
    ],
)
def test_invalid_reports_say_what_to_fix(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidReport) as info:
        AgentReport(**fields)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            {"outcome": "failed", "result": 1},
            "AgentReport: unknown field(s) 'result'; fields: outcome, completion_reason",
        ),
        ("completed", "the agent must return an AgentReport (or a mapping of its fields), got str: 'completed'"),
        (True, "got bool: True"),
    ],
)
def test_coerce_refuses_what_is_not_a_report(value: Any, message: str) -> None:
    with pytest.raises(InvalidReport) as info:
        AgentReport.coerce(value)
    assert message in str(info.value)
