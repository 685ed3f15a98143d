"""``ToolHistory``: a framework's tool calls and results as the report the harness checks."""

from __future__ import annotations

import pytest

from pytest_kylecode.byo.frameworks.history import ToolHistory, describe_exception, parse_arguments


def test_a_finished_run_pairs_calls_with_results_and_says_how_it_ended() -> None:
    history = ToolHistory(steps=2)
    history.call("c1", "read_file", '{"path": "notes.txt"}')
    history.result("c1")
    history.call("c2", "mark_task_complete", {"summary": "done"})
    history.result("c2")
    report = history.ended(finish_tools=frozenset({"mark_task_complete"}))
    assert (report.outcome, report.completion_reason, report.steps) == ("completed", "tool_finish", 2)
    assert report.tool_calls_paired and report.tool_sequence == ["read_file", "mark_task_complete"]
    assert report.tool_calls[0]["arguments"] == {"path": "notes.txt"}
    assert history.ended().completion_reason == "provider_signal"  # no finishing tool named: the model's answer


def test_arguments_that_are_no_json_object_mean_the_call_did_not_run() -> None:
    history = ToolHistory()
    history.call("c1", "list_dir", '{"path": "."}{"path": "."}')
    history.result("c1")  # whatever the framework answered, it cannot have run the tool
    history.call("c2", "read_file", "[1]")
    history.result("c2", error=True)
    report = history.ended()
    assert [c["arguments"] for c in report.tool_calls] == ['{"path": "."}{"path": "."}', "[1]"]
    assert report.tool_errors == 2 and report.tool_sequence == []


def test_an_error_result_of_a_call_that_ran_counts_as_a_tool_error_and_ran() -> None:
    history = ToolHistory()
    history.call("c1", "read_file", "")
    history.result("c1", error=True)
    report = history.ended()
    assert (report.tool_errors, report.tool_sequence, report.tool_calls[0]["arguments"]) == (1, ["read_file"], {})


def test_a_duplicated_call_id_is_reported_as_the_framework_sent_it() -> None:
    history = ToolHistory()
    for _ in range(2):
        history.call("toolu_1", "list_dir", {"path": "."})
        history.result("toolu_1")
    assert not history.ended().tool_calls_paired


def _raise_in_helper() -> None:
    raise ValueError("the model's answer has no choices")


def test_a_failed_run_names_the_exception_and_where_it_was_raised() -> None:
    history = ToolHistory(steps=1)
    try:
        _raise_in_helper()
    except ValueError as exc:
        report = history.failed(exc)
    assert report.outcome == "failed" and report.steps == 1
    assert report.error_message is not None
    assert report.error_message.startswith("ValueError: the model's answer has no choices (raised at ")
    line = _raise_in_helper.__code__.co_firstlineno + 1
    assert report.error_message.endswith(f"test_history.py:{line} in _raise_in_helper)")
    assert history.failed(RuntimeError("turns"), max_steps=True).outcome == "max_steps"


def test_an_exception_without_a_traceback_is_its_type_and_message() -> None:
    assert describe_exception(KeyError("choices")) == "KeyError: 'choices'"
    assert describe_exception(TimeoutError()) == "TimeoutError"


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [('{"a": 1}', {"a": 1}), ("", {}), ("  ", {}), ({"a": 1}, {"a": 1}), ('"text"', '"text"'), ("{", "{")],
)
def test_arguments_are_the_object_or_the_raw_text(raw: object, parsed: object) -> None:
    assert parse_arguments(raw) == parsed
