"""Completion detection: has this turn finished the task, and by which signal?

Three signals, each considered only when enabled in ``CompletionConfig``, checked in
this order after the turn's tool calls have run:

- ``tool_finish``: ``mark_task_complete`` was executed this turn (a refused, malformed
  call does not count);
- ``text_sentinel``: a line of the assistant text, stripped of surrounding whitespace,
  equals a configured sentinel (sentinels tried in configured order). Whole lines only:
  "NOT DONE YET" or "DONE." does not match the sentinel "DONE" (a predecessor ended runs
  early on substrings);
- ``provider_signal``: the provider finished with ``stop`` and the turn made no tool call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Literal, TypeAlias

from agent_runtime.config import CompletionConfig

__all__ = ["COMPLETION_REASONS", "FINISH_TOOL", "CompletionReason", "detect_completion", "match_sentinel"]

CompletionReason: TypeAlias = Literal["tool_finish", "text_sentinel", "provider_signal"]
COMPLETION_REASONS: Final = ("tool_finish", "text_sentinel", "provider_signal")
FINISH_TOOL: Final = "mark_task_complete"


def match_sentinel(text: str, sentinels: Iterable[str]) -> str | None:
    """The first sentinel (in the given order) that is a whole line of ``text``, else ``None``.

    A sentinel that is empty after stripping never matches (it would match any blank line).
    """
    if not text:
        return None
    lines = {line.strip() for line in text.splitlines()}
    for sentinel in sentinels:
        wanted = sentinel.strip()
        if wanted and wanted in lines:
            return sentinel
    return None


def detect_completion(
    config: CompletionConfig,
    *,
    text: str,
    executed: Iterable[str],
    had_tool_calls: bool,
    finish_reason: str | None,
) -> CompletionReason | None:
    """The completion reason of one turn, or ``None`` when the run goes on.

    ``text`` is the assistant text without call blocks, ``executed`` the names of the calls
    that ran this turn, ``had_tool_calls`` whether the turn made any call (malformed included).
    """
    if config.tool_finish and FINISH_TOOL in executed:
        return "tool_finish"
    if config.text_sentinels and match_sentinel(text, config.text_sentinels) is not None:
        return "text_sentinel"
    if config.provider_signals and finish_reason == "stop" and not had_tool_calls:
        return "provider_signal"
    return None
