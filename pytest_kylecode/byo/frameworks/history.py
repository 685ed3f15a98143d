"""What every adapter reads from a framework's message history, and turns into an ``AgentReport``.

An adapter walks its framework's messages and tells a ``ToolHistory`` each tool call the model
asked for (with its raw arguments) and each result the framework sent back; the history makes
the report. A call whose arguments are not a JSON object cannot have run, whatever the
framework answered it with: it is reported as an error result that was not executed. A run the
framework abandoned with an exception becomes ``failed`` with the exception's type, message and
the innermost frame outside the standard library and this package.
"""

from __future__ import annotations

import json
import sysconfig
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent_runtime.loop.completion import CompletionReason
from pytest_kylecode.byo.agent_report import AgentReport

__all__ = ["ToolHistory", "describe_exception"]

_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
_HERE = Path(__file__).resolve().parent


def parse_arguments(raw: object) -> Mapping[str, object] | str:
    """Tool arguments as the report wants them: the parsed object, or the raw text when it is not one."""
    if isinstance(raw, Mapping):
        return {str(k): v for k, v in raw.items()}
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        parsed = json.loads(text) if text.strip() else {}
    except ValueError:
        return text
    return {str(k): v for k, v in parsed.items()} if isinstance(parsed, dict) else text


@dataclass
class ToolHistory:
    """Tool calls and results in the order the framework's history has them."""

    calls: list[dict[str, object]] = field(default_factory=list)
    results: list[dict[str, object]] = field(default_factory=list)
    steps: int = 0

    def call(self, call_id: object, name: str, raw_arguments: object) -> None:
        self.calls.append({"id": str(call_id), "name": name, "arguments": parse_arguments(raw_arguments)})

    def result(self, call_id: object, *, error: bool = False) -> None:
        call_id = str(call_id)
        arguments = next((c["arguments"] for c in reversed(self.calls) if c["id"] == call_id), {})
        executed = not isinstance(arguments, str)
        self.results.append({"id": call_id, "error": error or not executed, "executed": executed})

    def completed(self, reason: CompletionReason) -> AgentReport:
        return AgentReport(
            outcome="completed",
            completion_reason=reason,
            steps=self.steps,
            tool_calls=self.calls,
            tool_results=self.results,
        )

    def ended(self, *, finish_tools: frozenset[str] = frozenset()) -> AgentReport:
        """A run the framework finished: by a finishing tool when its last call was one, else on the
        model's own final answer."""
        last = self.calls[-1]["name"] if self.calls else None
        return self.completed("tool_finish" if last in finish_tools else "provider_signal")

    def failed(self, exc: BaseException, *, max_steps: bool = False) -> AgentReport:
        """A run the framework abandoned with ``exc`` (``max_steps`` when it ran out of turns)."""
        return AgentReport(
            outcome="max_steps" if max_steps else "failed",
            steps=self.steps,
            tool_calls=self.calls,
            tool_results=self.results,
            error_message=describe_exception(exc),
        )


def describe_exception(exc: BaseException) -> str:
    """``Type: message (raised at file:line in function)``, the frame being the innermost one that is
    neither the standard library's nor this package's: the framework's (or the agent's) own."""
    text = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename).resolve()
        if _STDLIB in path.parents and "site-packages" not in path.parts:
            continue
        if _HERE in path.parents:
            continue
        return f"{text} (raised at {_short_path(path)}:{frame.lineno} in {frame.name})"
    return text


def _short_path(path: Path) -> str:
    """A path from its package on: ``agents/models/openai_chatcompletions.py``."""
    parts = path.parts
    if "site-packages" in parts:
        return "/".join(parts[parts.index("site-packages") + 1 :])
    return str(path)
