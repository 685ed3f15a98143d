"""Completion detection: each signal only when enabled; sentinels match whole lines only."""

from __future__ import annotations

import pytest

from agent_runtime.config import CompletionConfig
from agent_runtime.loop.completion import detect_completion, match_sentinel

ALL = CompletionConfig(tool_finish=True, text_sentinels=("DONE",), provider_signals=True)
NONE = CompletionConfig(tool_finish=False, text_sentinels=(), provider_signals=False)


def detect(config, text="", executed=(), had_tool_calls=False, finish_reason=None):
    return detect_completion(
        config, text=text, executed=executed, had_tool_calls=had_tool_calls, finish_reason=finish_reason
    )


def test_substring_done_does_not_complete():
    """The predecessor ended runs when "DONE" appeared anywhere in the text."""
    config = CompletionConfig(tool_finish=False, text_sentinels=("DONE",))
    for text in ["NOT DONE YET", "DONE.", "I am DONE with step 1", "UNDONE", "done", "DONE DONE", "```DONE```"]:
        assert detect(config, text=text) is None, text
    assert match_sentinel("NOT DONE YET\nDONE.", ["DONE"]) is None


@pytest.mark.parametrize("text", ["DONE", "All good.\nDONE", "  DONE  \n", "a\r\nDONE\r\nb", "\tDONE"])
def test_sentinel_on_a_line_of_its_own_completes(text):
    assert detect(CompletionConfig(tool_finish=False, text_sentinels=("DONE",)), text=text) == "text_sentinel"


def test_sentinels_are_tried_in_configured_order():
    text = "FINISHED\nTASK COMPLETE"
    assert match_sentinel(text, ["TASK COMPLETE", "FINISHED"]) == "TASK COMPLETE"
    assert match_sentinel(text, ["FINISHED", "TASK COMPLETE"]) == "FINISHED"
    assert match_sentinel(text, ["NOPE", "FINISHED"]) == "FINISHED"


def test_blank_sentinel_never_matches_blank_lines():
    assert match_sentinel("a\n\nb", ["", "  "]) is None


def test_tool_finish_only_when_enabled_and_executed():
    assert detect(ALL, executed=["list_dir", "mark_task_complete"], had_tool_calls=True) == "tool_finish"
    assert detect(ALL, executed=["list_dir"], had_tool_calls=True) is None
    assert detect(NONE, executed=["mark_task_complete"], had_tool_calls=True) is None


def test_sentinel_only_when_enabled():
    assert detect(NONE, text="DONE") is None
    assert detect(CompletionConfig(text_sentinels=("OTHER",)), text="DONE") is None


def test_provider_signal_needs_stop_without_tool_calls_and_enabled():
    assert detect(ALL, finish_reason="stop") == "provider_signal"
    assert detect(ALL, finish_reason="stop", had_tool_calls=True) is None
    assert detect(ALL, finish_reason="length") is None
    assert detect(ALL, finish_reason="tool_calls") is None
    assert detect(CompletionConfig(provider_signals=False), finish_reason="stop") is None


def test_precedence_tool_then_sentinel_then_provider():
    assert (
        detect(ALL, text="DONE", executed=["mark_task_complete"], had_tool_calls=True, finish_reason="stop")
        == "tool_finish"
    )
    assert detect(ALL, text="DONE", finish_reason="stop") == "text_sentinel"
