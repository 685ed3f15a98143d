"""A project of scenario files run by real pytest sessions (pytester), and the scenario most tests start from.

The packages the inner sessions need are imported in the outer process by ``conftest.py``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

# A three-turn task over every protocol: list, write, finish.
BASIC = """
name: basic
task: List the workspace, write notes.txt, then finish.
workspace: {README.md: "# demo\\n"}
agent:
  max_steps: 6
  failover: [openai/gpt-4.1-mini]
script:
  - tool_calls: [{name: list_dir, arguments: {path: "."}}]
  - text: Writing notes.
    tool_calls: [{name: write_file, arguments: {path: notes.txt, content: "one file\\n"}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: notes written}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]
  streaming: [true, false]
  tools: [native]
  fault: [none]
expect:
  outcome: completed
  completion_reason: tool_finish
  steps: 3
  tool_sequence: [list_dir, write_file, mark_task_complete]
  files: {notes.txt: "one file\\n"}
"""


# BASIC narrowed to one cell (Anthropic, streamed), its cassette and its node id.
ONE = BASIC.replace(
    "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]",
    "provider: [anthropic/claude-sonnet-4-5]",
).replace("streaming: [true, false]", "streaming: [true]")
CASSETTE = Path("cassettes/basic/anthropic/claude-sonnet-4-5/stream-native-none.yaml")
NODE = "scenarios/basic.yaml::basic[anthropic/claude-sonnet-4-5-stream-native-none]"
# BASIC with the anthropic nostream cells expecting a step too many: a run that passed on BASIC
# (a baseline, one shard of it) and fails now.
FAILS_NOW = (
    BASIC
    + """
overrides:
  - when: {provider: "anthropic/*", streaming: false}
    expect: {steps: 4}
"""
)
NOW_FAILING = "scenarios/basic.yaml::basic[anthropic/claude-sonnet-4-5-nostream-native-none]"


class Matrix:
    """A pytester project with scenario files, recording and replaying like a user would."""

    def __init__(self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
        self.pytester = pytester
        self.monkeypatch = monkeypatch
        self.root = pytester.path
        (self.root / "scenarios").mkdir()
        # When this suite itself runs under xdist, the inner session must not believe it is a worker
        # (syrupy, for one, then skips its report).
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
            monkeypatch.delenv(name, raising=False)
        # The outer process imported the packages already; the inner session cannot rewrite them, and says so.
        pytester.makeini(
            "[pytest]\naddopts = -p no:cacheprovider\nfilterwarnings = ignore::pytest.PytestAssertRewriteWarning\n"
        )

    def scenario(self, name: str, text: str) -> None:
        (self.root / "scenarios" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")

    def run(self, *args: str, ci: bool = False, subprocess: bool = False) -> pytest.RunResult:
        if ci:
            self.monkeypatch.setenv("CI", "true")
        else:
            self.monkeypatch.delenv("CI", raising=False)
        run = self.pytester.runpytest_subprocess if subprocess else self.pytester.runpytest
        return run("--kylecode-matrix", *args)

    def record(self, *args: str) -> pytest.RunResult:
        return self.run("--kylecode-record=all", "--snapshot-update", *args)

    def replay(self, *args: str) -> pytest.RunResult:
        return self.run(*args, ci=True)


def load_cassette(matrix: Matrix) -> dict:
    """The cassette of ONE, as data."""
    return yaml.safe_load((matrix.root / CASSETTE).read_text())


# BASIC over three faults and both tool modes: 30 cells (6 combinations not applicable), and
# overrides that make one of them fail.
FAULTS = (
    BASIC.replace("fault: [none]", "fault: [none, http_503, stall]").replace("tools: [native]", "tools: [native, text]")
    + """
overrides:
  - when: {fault: http_503, provider: "openai/*"}
    expect: {retries: 1, fallbacks: 0, final_route: openai/gpt-4o-mini}
  - when: {provider: "openai-responses/*", fault: stall, tools: text}
    expect: {steps: 99}
"""
)


# What the cassettes are recorded from: a recording cell that fails writes nothing, so the
# expectation that fails one cell on replay is added after recording.
RECORDED = FAULTS.replace("expect: {steps: 99}", "expect: {steps: 3}")


def record_faults(matrix: Matrix, *args: str) -> None:
    """Record RECORDED, then leave FAULTS in place: one cell of 30 fails on replay."""
    matrix.scenario("basic", RECORDED)
    matrix.record(*args)
    matrix.scenario("basic", FAULTS)
