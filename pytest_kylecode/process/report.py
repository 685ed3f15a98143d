"""What a program's run says it did: its ``{report_file}``, or, without one, its exit and its traffic.

A report file is JSON of ``AgentReport``'s fields (``schema/agent_report.schema.json``, shipped with
the package), checked against that schema and then by ``AgentReport`` itself. Without one, the
outcome is ``completed`` on exit 0 and ``failed`` otherwise; the tool calls are those of the
successful responses the program received, the tool results those its later requests sent back
(the conversation a stateless request repeats); a call whose arguments were no JSON object cannot
have run as asked, so its result counts as an error result of a call not executed. A completed
run whose last response called ``mark_task_complete`` completed by ``tool_finish`` (that call
needs no result sent back); otherwise the model's stop was the ``provider_signal``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from agent_runtime.loop.completion import FINISH_TOOL
from agent_runtime.messages import JSONObject
from agent_runtime.observe.metrics import Attempt
from agent_runtime.wire.client import CallRecord
from pytest_kylecode.byo.agent_report import AgentReport, InvalidReport
from pytest_kylecode.failures import CellFailure
from pytest_kylecode.wire.requests import protocol_for_path

if TYPE_CHECKING:
    import jsonschema

__all__ = ["REPORT_SCHEMA", "read_report", "report_from_traffic"]

REPORT_SCHEMA: Final = Path(__file__).resolve().parent.parent / "schema" / "agent_report.schema.json"


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(REPORT_SCHEMA.read_text(encoding="utf-8")))


def read_report(path: Path) -> AgentReport | None:
    """The report the program wrote at ``path``; ``None`` when it wrote none; a ``CellFailure``
    naming the first problem (with its JSON path) when it is not a valid report."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CellFailure(f"the program's report file {path.name} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CellFailure(f"the program's report file {path.name} is not JSON: {exc}") from None
    error = next(iter(sorted(_validator().iter_errors(data), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or " (top level)"
        raise CellFailure(
            f"the program's report file {path.name} does not follow {REPORT_SCHEMA.name}: "
            f"report{where}: {error.message}"
        )
    try:
        return AgentReport.coerce(data)
    except (InvalidReport, TypeError) as exc:
        raise CellFailure(f"the program's report file {path.name} is invalid: {exc}") from None


def report_from_traffic(exit_code: int, attempts: Iterable[Attempt]) -> AgentReport:
    """The report of a program that wrote none, from its exit code and the calls it made."""
    calls: list[Mapping[str, object]] = []
    answered: dict[str, bool] = {}  # tool call id -> sent back as an error
    last_calls: list[str] = []
    malformed: set[str] = set()  # calls whose arguments are no JSON object: answered, never run as asked
    for attempt in attempts:
        record = attempt.record
        for call_id, is_error in _results_sent(record):
            answered.setdefault(call_id, is_error)
        if record.error is None and record.response is not None:
            last_calls = []
            for call in record.response.tool_calls:
                arguments: object = call.raw_arguments if call.parse_error else call.arguments
                if call.parse_error:
                    malformed.add(call.id)
                calls.append({"id": call.id, "name": call.name, "arguments": arguments})
                last_calls.append(call.name)
    finished = exit_code == 0 and FINISH_TOOL in last_calls
    results: list[Mapping[str, object]] = []
    for asked in calls:
        call_id = str(asked["id"])
        if call_id in answered and call_id in malformed:
            results.append({"id": call_id, "error": True, "executed": False})
        elif call_id in answered:
            results.append({"id": call_id, "error": answered[call_id]})
        elif finished and asked["name"] == FINISH_TOOL:
            results.append({"id": call_id})
    if exit_code != 0:
        return AgentReport(
            outcome="failed",
            error_message=f"the program exited with code {exit_code}",
            tool_calls=calls,
            tool_results=results,
        )
    return AgentReport(
        outcome="completed",
        completion_reason="tool_finish" if finished else "provider_signal",
        tool_calls=calls,
        tool_results=results,
    )


def _results_sent(record: CallRecord) -> list[tuple[str, bool]]:
    """(tool call id, is an error) of every tool result the request's conversation holds."""
    body = record.request_body
    protocol = protocol_for_path(record.url)
    found: list[tuple[str, bool]] = []
    if protocol == "openai_chat":
        for message in _objects(body.get("messages")):
            if message.get("role") == "tool" and message.get("tool_call_id"):
                found.append((str(message["tool_call_id"]), False))
    elif protocol == "anthropic_messages":
        for message in _objects(body.get("messages")):
            for block in _objects(message.get("content")):
                if block.get("type") == "tool_result" and block.get("tool_use_id"):
                    found.append((str(block["tool_use_id"]), block.get("is_error") is True))
    elif protocol == "openai_responses":
        for item in _objects(body.get("input")):
            if item.get("type") == "function_call_output" and item.get("call_id"):
                found.append((str(item["call_id"]), False))
    return found


def _objects(value: object) -> list[JSONObject]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
