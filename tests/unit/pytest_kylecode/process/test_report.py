"""A program's report: its report file checked against the shipped schema, or its run read from its traffic."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from agent_runtime.clock import VirtualClock
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from pytest_kylecode.byo.agent_report import AgentReport
from pytest_kylecode.byo.metering import MeteringTransport, TrafficMeter
from pytest_kylecode.emulator import EmulatorTransport, parse_script
from pytest_kylecode.failures import CellFailure
from pytest_kylecode.process.report import REPORT_SCHEMA, read_report, report_from_traffic

CHAT = "https://api.openai.com/v1/chat/completions"
TOOLS = [{"type": "function", "function": {"name": "list_dir", "parameters": {"type": "object"}}}]


def test_the_shipped_schema_is_a_json_schema_of_agent_reports_fields() -> None:
    schema = json.loads(REPORT_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    # Every field but the in-process agent's caught exception object, which no JSON can carry.
    assert set(AgentReport.__dataclass_fields__) - set(schema["properties"]) == {"exception"}
    assert set(schema["properties"]) <= set(AgentReport.__dataclass_fields__)


def test_a_valid_report_file_becomes_the_report(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(
        json.dumps(
            {
                "outcome": "completed",
                "completion_reason": "tool_finish",
                "steps": 2,
                "tool_calls": [{"id": "c1", "name": "list_dir", "arguments": {"path": "."}}],
                "tool_results": [{"id": "c1"}],
            }
        )
    )
    report = read_report(path)
    assert report is not None and report.tool_sequence == ["list_dir"] and report.tool_calls_paired


def test_no_report_file_is_no_report(tmp_path: Path) -> None:
    assert read_report(tmp_path / "report.json") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "report.json is not JSON"),
        ('{"outcome": "done"}', "report.outcome: 'done' is not one of"),
        ('{"outcome": "failed", "tool_calls": [{"id": "c1"}]}', "report.tool_calls[0]: 'name' is a required property"),
        ('{"outcome": "completed"}', "report (top level): 'completion_reason' is a required property"),
        ('{"outcome": "failed", "extra": 1}', "Additional properties are not allowed ('extra' was unexpected)"),
    ],
)
def test_an_invalid_report_file_fails_the_cell_naming_the_place(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(content)
    with pytest.raises(CellFailure, match=r"the program's report file report\.json") as failure:
        read_report(path)
    assert message in str(failure.value)


class Traffic:
    """Requests a program would send, through the metering over the emulator."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        clock = VirtualClock()
        self.runlog = RunLog()
        meter = TrafficMeter(clock, ProviderMetricsCollector(), runlog=self.runlog)
        emulator = EmulatorTransport(parse_script(script), clock=clock)
        self.client = httpx.Client(transport=MeteringTransport(emulator, meter))
        self.messages: list[dict[str, Any]] = [{"role": "user", "content": "go"}]

    def turn(self, *, answer: str | None = "ok") -> dict[str, Any]:
        body = {"model": "gpt-4o-mini", "messages": self.messages, "tools": TOOLS}
        message: dict[str, Any] = self.client.post(CHAT, json=body).json()["choices"][0]["message"]
        self.messages.append(message)
        if answer is not None:
            for call in message.get("tool_calls") or []:
                self.messages.append({"role": "tool", "tool_call_id": call["id"], "content": answer})
        return message


def test_without_a_report_exit_0_and_a_finish_call_is_a_tool_finish() -> None:
    traffic = Traffic(
        [
            {"tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]},
            {"tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "done"}}]},
        ]
    )
    traffic.turn()
    traffic.turn(answer=None)  # the program ends at the finish call: it sends no result for it
    report = report_from_traffic(0, traffic.runlog.attempts)
    assert (report.outcome, report.completion_reason) == ("completed", "tool_finish")
    assert report.tool_sequence == ["list_dir", "mark_task_complete"] and report.tool_calls_paired


def test_without_a_report_a_non_zero_exit_is_a_failure_and_unanswered_calls_are_unpaired() -> None:
    traffic = Traffic([{"tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]}])
    traffic.turn(answer=None)
    report = report_from_traffic(2, traffic.runlog.attempts)
    assert (report.outcome, report.error_message) == ("failed", "the program exited with code 2")
    assert not report.tool_calls_paired and report.tool_sequence == []


def test_without_a_report_a_call_with_broken_arguments_was_answered_not_run() -> None:
    traffic = Traffic(
        [
            {"tool_calls": [{"name": "list_dir", "raw_arguments": '{"path": "."'}]},
            {"text": "Nothing more to do."},
        ]
    )
    traffic.turn(answer="error: not JSON")
    traffic.turn()
    report = report_from_traffic(0, traffic.runlog.attempts)
    assert (report.outcome, report.completion_reason) == ("completed", "provider_signal")
    assert report.tool_calls[0]["arguments"] == '{"path": "."'
    assert (report.tool_errors, report.tool_sequence, report.tool_calls_paired) == (1, [], True)
