"""Expectations (docs/design.md, scenario format): what a finished run is checked against.

``measure`` turns a run into the values expectation keys name; ``check``
compares them with a cell's merged ``expect`` and returns every mismatch, so a
failing cell shows all that differs at once, expected vs actual.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from agent_runtime.loop.agent import RunResult
    from agent_runtime.messages import JSONObject

_OPS: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    "<": operator.lt,
}
_COMPARISON = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_MISSING: Final = object()


@dataclass(frozen=True, slots=True)
class Mismatch:
    key: str
    expected: object
    actual: object  # ``_MISSING`` when the metric path names nothing

    def __str__(self) -> str:
        expected = (
            self.expected
            if isinstance(self.expected, str) and _COMPARISON.match(self.expected)
            else repr(self.expected)
        )
        actual = "(no such metric)" if self.actual is _MISSING else repr(self.actual)
        return f"{self.key}: expected {expected}, got {actual}"


def metric_path_parts(path: str) -> list[str]:
    """``routes[openrouter/z-ai/glm-4.6].calls`` -> ``["routes", "openrouter/z-ai/glm-4.6", "calls"]``:
    a bracketed segment is taken literally (a route holds dots and slashes)."""
    return [part[0] or part[1] for part in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", path)]


def metric_path(snapshot: object, path: str) -> object:
    """``routes[openrouter/z-ai/glm-4.6].calls`` -> the value, or ``_MISSING``."""
    value = snapshot
    for key in metric_path_parts(path):
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def value_matches(expected: object, actual: object) -> bool:
    if isinstance(expected, str) and (m := _COMPARISON.match(expected)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        return _OPS[m.group(1)](actual, float(m.group(2)))
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return isinstance(actual, (int, float)) and not isinstance(actual, bool) and actual == expected
    return bool(expected == actual)


def measure(result: RunResult, metrics: JSONObject) -> JSONObject:
    summary = metrics.get("summary", {})
    return {
        "outcome": result.outcome,
        "completion_reason": result.completion_reason,
        "error_category": result.error_category,
        "steps": result.steps,
        "retries": summary.get("retries"),
        "fallbacks": summary.get("fallbacks"),
        "final_route": result.final_route,
        "circuit_opened": bool(summary.get("circuit_opens")),
        "tool_calls_paired": result.tool_calls_paired,
        "tool_errors": result.tool_errors,
        "tool_sequence": list(result.tool_sequence),
    }


def _read(workspace: Path, rel: str) -> str | None:
    path = workspace / rel
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except UnicodeDecodeError:
        return "<binary file>"


def check(expect: JSONObject, measured: JSONObject, metrics: JSONObject, workspace: Path) -> list[Mismatch]:
    mismatches: list[Mismatch] = []
    for key, expected in expect.items():
        if key == "files":
            for rel, content in expected.items():
                text = _read(workspace, rel)
                if text != content:
                    mismatches.append(Mismatch(f"files[{rel}]", content, text))
        elif key == "metrics":
            for path, wanted in expected.items():
                actual = metric_path(metrics, path)
                if actual is _MISSING or not value_matches(wanted, actual):
                    mismatches.append(Mismatch(f"metrics.{path}", wanted, actual))
        elif not value_matches(expected, measured[key]):
            mismatches.append(Mismatch(key, expected, measured[key]))
    return mismatches


# The invariants a scenario can also state as an expectation: once a cell's ``expect`` states one
# (``tool_calls_paired: false`` for a framework known to drop an invalid call), the expectation is
# what is checked, and the invariant no longer applies to that cell.
STATABLE_INVARIANTS: Final = ("tool_calls_paired",)


def invariants(result: RunResult, metrics: JSONObject, expect: JSONObject | None = None) -> list[str]:
    """What must hold for every cell (the matrix's correctness bar), except the invariants that
    the cell's ``expect`` states itself (``STATABLE_INVARIANTS``)."""
    stated = set(expect or {}) & set(STATABLE_INVARIANTS)
    problems = []
    if "tool_calls_paired" not in stated and not result.tool_calls_paired:
        problems.append("a tool call in the transcript has no result, or more than one")
    summary = metrics.get("summary", {})
    if summary.get("calls") != summary.get("successes", 0) + summary.get("errors", 0):
        problems.append(
            f"metrics do not add up: calls {summary.get('calls')} != successes "
            f"{summary.get('successes')} + errors {summary.get('errors')}"
        )
    for route, stats in metrics.get("routes", {}).items():
        errors = sum(stats.get("errors", {}).values())
        if stats.get("calls") != stats.get("successes", 0) + errors:
            problems.append(
                f"metrics of {route} do not add up: calls {stats.get('calls')} != "
                f"successes {stats.get('successes')} + errors {errors}"
            )
    return problems
