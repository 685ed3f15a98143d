"""``run_shell`` in matrix cells: sandboxed by default (replay, recording from the emulator), unsandboxed
only when the scenario says so, and a machine without a sandbox is reported once a session.

The command a script or cassette asks for writes a file outside the project: it must not appear.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from agent_runtime.loop.tools.shell import sandbox_in_use

SCENARIO = """\
name: shell
task: Run the command, then finish.
workspace: {{README.md: "# demo\\n"}}
agent: {{max_steps: 4, failover: []{agent}}}
script:
  - tool_calls: [{{name: run_shell, arguments: {{command: "echo escaped > {outside}; echo ran"}}}}]
  - tool_calls: [{{name: mark_task_complete, arguments: {{summary: done}}}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [true]
  tools: [native]
  fault: [none]
expect: {{outcome: completed}}
snapshot: false
"""
WARNING = "kylecode: run_shell ran unsandboxed: neither bubblewrap (bwrap) nor unshare works on this machine"


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID", "CI"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    (pytester.path / "scenarios").mkdir()
    return pytester


def _scenario(project: pytest.Pytester, outside: Path, agent: str = "") -> None:
    text = SCENARIO.format(outside=outside, agent=agent)
    (project.path / "scenarios" / "shell.yaml").write_text(text, encoding="utf-8")


def test_commands_of_scripts_and_cassettes_run_sandboxed_unless_the_scenario_opts_out(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if sandbox_in_use() is None:
        pytest.skip("neither bubblewrap (bwrap) nor unshare works on this machine")
    outside = tmp_path_factory.mktemp("outside") / "escaped.txt"
    _scenario(project, outside)
    recorded = project.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all")
    recorded.assert_outcomes(passed=1)
    assert not outside.exists() and WARNING not in recorded.stdout.str()
    os.environ["CI"] = "true"  # replay as CI does; the fixture's monkeypatch removes it again
    try:
        project.runpytest_subprocess("--kylecode-matrix").assert_outcomes(passed=1)
    finally:
        del os.environ["CI"]
    assert not outside.exists()

    _scenario(project, outside, agent=", tools: {run_shell: {sandbox: false}}")
    project.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all").assert_outcomes(passed=1)
    assert outside.read_text() == "escaped\n"  # the scenario asked for it, in so many words


def test_a_machine_without_a_sandbox_is_said_once(
    project: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path_factory.mktemp("outside") / "escaped.txt"
    _scenario(project, outside)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no bwrap, no unshare
    result = project.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all")
    result.assert_outcomes(passed=1)
    assert result.stdout.str().count(WARNING) == 1
    assert outside.read_text() == "escaped\n"


def test_a_sandbox_key_that_is_no_boolean_names_its_line(project: pytest.Pytester, tmp_path: Path) -> None:
    _scenario(project, tmp_path / "x", agent=", tools: {run_shell: {sandbox: maybe}}")
    result = project.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all")
    result.assert_outcomes(failed=1)
    assert "shell.yaml:4: agent.tools.run_shell.sandbox: expected true or false, got 'maybe'" in result.stdout.str()
