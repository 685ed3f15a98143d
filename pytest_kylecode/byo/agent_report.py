"""``AgentReport``: what a user's agent says it did in one cell, validated.

The harness measures provider traffic itself (``metering``); the agent reports only what
the harness cannot see: how the run ended and which tool calls it made and answered.
From the tool calls and results the harness derives the expectation keys
``tool_calls_paired``, ``tool_errors`` and ``tool_sequence`` with the runtime's own rules.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Final

from agent_runtime.errors import CATEGORIES
from agent_runtime.loop.agent import OUTCOMES, Outcome
from agent_runtime.loop.completion import COMPLETION_REASONS, CompletionReason

__all__ = ["AgentReport", "InvalidReport"]

CALL_KEYS: Final = ("id", "name", "arguments")
RESULT_KEYS: Final = ("id", "error", "executed")


class InvalidReport(ValueError):
    """An ``AgentReport`` (or the mapping given for one) that does not satisfy its contract."""


@dataclass(frozen=True)
class AgentReport:
    """How one agent run ended, reported by the agent.

    - ``outcome``: ``completed | failed | max_steps | loop_guard``.
    - ``completion_reason``: ``tool_finish | text_sentinel | provider_signal``; required
      when ``outcome`` is ``completed``, refused otherwise.
    - ``steps``: model turns the agent acted on; ``None`` = the successful provider
      calls the harness measured.
    - ``tool_calls``: every call the model asked for, in order, as mappings
      ``{id, name, arguments}`` (``arguments`` a mapping, or the raw string when it did
      not parse).
    - ``tool_results``: the results the agent sent back, as mappings ``{id, error=False,
      executed=True}``; ``error`` marks an error result, ``executed=False`` a call that
      was answered without running (malformed arguments, unknown tool).
    - ``error_category``: a canonical category (docs/design.md, error categories), for ``failed`` and
      ``loop_guard``; ``None`` on a failed run = the category of the last failed
      provider call. ``error_message``: free text shown in reports.
    - ``exception``: the exception the agent caught when its run failed on one (its own, or
      its framework's); a failed cell's report shows its type, message and the innermost
      frame of the agent's own code.

    Derived, with the runtime's rules: ``tool_calls_paired`` (every call id non-empty,
    unique, answered by exactly one result, no result for an unknown id),
    ``tool_errors`` (error results), ``tool_sequence`` (names of executed calls, in call
    order).
    """

    outcome: Outcome
    completion_reason: CompletionReason | None = None
    steps: int | None = None
    tool_calls: Sequence[Mapping[str, object]] = field(default_factory=tuple)
    tool_results: Sequence[Mapping[str, object]] = field(default_factory=tuple)
    error_category: str | None = None
    error_message: str | None = None
    exception: BaseException | None = None

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def coerce(cls, value: object) -> AgentReport:
        """An ``AgentReport`` as is, or one built from a mapping of its fields."""
        if isinstance(value, AgentReport):
            return value
        if isinstance(value, Mapping):
            names = [f.name for f in fields(cls)]
            unknown = sorted(str(k) for k in value if k not in names)
            if unknown:
                raise InvalidReport(
                    f"AgentReport: unknown field(s) {', '.join(map(repr, unknown))}; fields: {', '.join(names)}"
                )
            return cls(**value)
        raise InvalidReport(
            f"the agent must return an AgentReport (or a mapping of its fields), "
            f"got {type(value).__name__}: {_short(value)}"
        )

    # -- derived -----------------------------------------------------------------------------

    @property
    def tool_calls_paired(self) -> bool:
        calls = Counter(str(c["id"]) for c in self.tool_calls)
        results = Counter(str(r["id"]) for r in self.tool_results)
        return "" not in calls and all(n == 1 for n in calls.values()) and results == calls

    @property
    def tool_errors(self) -> int:
        return sum(1 for r in self.tool_results if r.get("error", False))

    @property
    def tool_sequence(self) -> list[str]:
        executed = {str(r["id"]) for r in self.tool_results if r.get("executed", True)}
        return [str(c["name"]) for c in self.tool_calls if str(c["id"]) in executed]


def _validate(report: AgentReport) -> None:
    if report.outcome not in OUTCOMES:
        raise InvalidReport(f"AgentReport.outcome: expected one of {', '.join(OUTCOMES)}, got {report.outcome!r}")
    reason = report.completion_reason
    if report.outcome == "completed" and reason not in COMPLETION_REASONS:
        raise InvalidReport(
            "AgentReport.completion_reason: a completed run says how it completed, one of "
            f"{', '.join(COMPLETION_REASONS)}; got {reason!r}"
        )
    if report.outcome != "completed" and reason is not None:
        raise InvalidReport(
            f"AgentReport.completion_reason: only a completed run has one; outcome is "
            f"{report.outcome!r}, completion_reason {reason!r}"
        )
    steps = report.steps
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        raise InvalidReport(f"AgentReport.steps: expected a non-negative integer or None, got {steps!r}")
    category = report.error_category
    if category is not None:
        if category not in CATEGORIES:
            raise InvalidReport(
                f"AgentReport.error_category: expected a canonical category ({', '.join(CATEGORIES)}), got {category!r}"
            )
        if report.outcome not in ("failed", "loop_guard"):
            raise InvalidReport(
                f"AgentReport.error_category: only failed and loop_guard runs have one; outcome is {report.outcome!r}"
            )
    if report.error_message is not None and not isinstance(report.error_message, str):
        raise InvalidReport(f"AgentReport.error_message: expected a string, got {_short(report.error_message)}")
    if report.exception is not None and not isinstance(report.exception, BaseException):
        raise InvalidReport(f"AgentReport.exception: expected an exception, got {_short(report.exception)}")
    _entries(report.tool_calls, "tool_calls", CALL_KEYS, required=("id", "name"))
    _entries(report.tool_results, "tool_results", RESULT_KEYS, required=("id",))
    for i, call in enumerate(report.tool_calls):
        if not isinstance(call["name"], str) or not call["name"]:
            raise InvalidReport(f"AgentReport.tool_calls[{i}].name: expected the tool's name, got {call['name']!r}")
        if not isinstance(call.get("arguments", {}), (Mapping, str)):
            raise InvalidReport(
                f"AgentReport.tool_calls[{i}].arguments: expected a mapping (or the raw string), "
                f"got {_short(call['arguments'])}"
            )
    for i, result in enumerate(report.tool_results):
        for flag in ("error", "executed"):
            if flag in result and not isinstance(result[flag], bool):
                raise InvalidReport(
                    f"AgentReport.tool_results[{i}].{flag}: expected true or false, got {result[flag]!r}"
                )


def _entries(items: object, name: str, allowed: tuple[str, ...], *, required: tuple[str, ...]) -> None:
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise InvalidReport(
            f"AgentReport.{name}: expected a list of mappings {{{', '.join(allowed)}}}, got {_short(items)}"
        )
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidReport(
                f"AgentReport.{name}[{i}]: expected a mapping {{{', '.join(allowed)}}}, got {_short(item)}"
            )
        unknown = [k for k in item if k not in allowed]
        if unknown:
            raise InvalidReport(
                f"AgentReport.{name}[{i}]: unknown key {unknown[0]!r}; allowed keys: {', '.join(allowed)}"
            )
        for key in required:
            if key not in item:
                raise InvalidReport(f"AgentReport.{name}[{i}]: missing key {key!r}")
            if key == "id" and not isinstance(item[key], (str, int)):
                raise InvalidReport(f"AgentReport.{name}[{i}].id: expected a string, got {_short(item[key])}")


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
