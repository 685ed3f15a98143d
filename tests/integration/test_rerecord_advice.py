"""What a failing cell advises, and that the advice works.

Traffic that no longer matches its cassette advises re-recording, with one command (per cell
and per scenario) that re-records and accepts the new metrics snapshot, so the next replay
passes. An expectation that fails on cleanly replayed traffic is the scenario's to change: the
failure names the line that set the expected value, and advises no re-recording.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys

import pytest
from matrix_helpers import BASIC, Matrix

ONE = BASIC.replace(
    "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]",
    "provider: [anthropic/claude-sonnet-4-5]",
).replace("streaming: [true, false]", "streaming: [true, false]")


def _run_advice(matrix: Matrix, command: str) -> subprocess.CompletedProcess[str]:
    """Run a printed command as a user would, in the project, with this interpreter's pytest."""
    words = shlex.split(command)
    assert words[:4] == ["env", "-u", "CI", "pytest"], command
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *words[4:]],
        cwd=matrix.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("form", ["re-record this cell", "re-record the whole scenario"])
def test_the_printed_rerecord_command_ends_green(matrix: Matrix, form: str) -> None:
    matrix.scenario("basic", ONE)
    matrix.record().assert_outcomes(passed=2)
    # The script changes: the cassettes are stale and the answers (so the token counts) differ.
    matrix.scenario("basic", ONE.replace("text: Writing notes.", "text: Writing the notes for the workspace now."))
    failed = matrix.replay()
    failed.assert_outcomes(failed=2)
    commands = re.findall(rf"^{form}: (.+)$", failed.stdout.str(), flags=re.M)
    assert commands, failed.stdout.str()
    done = _run_advice(matrix, commands[0])
    assert done.returncode == 0, done.stdout + done.stderr
    replay = matrix.replay()
    if form == "re-record this cell":
        replay.assert_outcomes(passed=1, failed=1)  # the other cell was not re-recorded
    else:
        replay.assert_outcomes(passed=2)


def test_an_expectation_that_fails_on_clean_replay_names_its_line(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record().assert_outcomes(passed=2)
    lines = ONE.replace("  steps: 3", "  steps: 4").lstrip().splitlines()
    matrix.scenario("basic", "\n".join(lines) + "\n")
    line = next(i for i, text in enumerate(lines, 1) if text == "  steps: 4")
    result = matrix.replay()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([f"  steps: expected 4, got 3  (expected by scenarios/basic.yaml:{line})"])
    assert "re-record" not in result.stdout.str()


def test_an_override_that_fails_names_the_override(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record().assert_outcomes(passed=2)
    text = ONE.lstrip() + "overrides:\n  - when: {streaming: false}\n    expect: {fallbacks: 1}\n"
    matrix.scenario("basic", text)
    line = text.splitlines().index("    expect: {fallbacks: 1}") + 1
    result = matrix.replay()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"  fallbacks: expected 1, got 0  (expected by scenarios/basic.yaml:{line})"])
    assert "re-record" not in result.stdout.str()
