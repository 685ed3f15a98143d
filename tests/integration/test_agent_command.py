"""A program as a cell's agent (``agent.command``): recorded from the emulator and replayed under
xdist, measured as an in-process agent is, confined to its variables and killed on time. The
examples of docs/any-language.md are run by tests/examples/test_any_language.py."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
from own_agent import write_project
from program_agent import write_program_project

ONE_CELL = {  # the fault-free cell alone (and without the override of the 503 cell)
    "fault: [none, http_503]": "fault: [none]",
    "overrides:\n  - when: {fault: http_503}\n": "overrides:\n  - when: {fault: none}\n",
    "expect: {retries: 1, metrics: {summary.calls: 3, ": "expect: {retries: 0, metrics: {summary.calls: 2, ",
    '"routes[openai/gpt-4o-mini].errors.server_error": 1}}': "summary.errors: 0}}",
}


def _record(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--kylecode-matrix", "--kylecode-record=all", "--snapshot-update", *args)


def _snapshot(project: pytest.Pytester, scenario: str, cell: str) -> object:
    path = project.path / "scenarios" / "__snapshots__" / scenario / "openai" / f"gpt-4o-mini-{cell}.json"
    return json.loads(path.read_text())


def test_a_program_records_then_replays_under_xdist(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_program_project(project)
    _record(project).assert_outcomes(passed=2)
    cassette = project.path / "cassettes/prog/openai/gpt-4o-mini/nostream-native-http_503.yaml"
    # The 503 is the fault's, injected above the cassette: only the genuine traffic is recorded,
    # under the provider's own URL, not the loopback one.
    assert cassette.read_text().count("uri: https://api.openai.com/v1/chat/completions") == 2
    assert "127.0.0.1" not in cassette.read_text()
    monkeypatch.setenv("CI", "true")
    result = project.runpytest_subprocess("--kylecode-matrix", "-n", "2")
    result.assert_outcomes(passed=2)


def test_its_metrics_equal_an_in_process_agent_sending_the_same(project: pytest.Pytester) -> None:
    write_program_project(project)
    write_project(project)  # scenario "own": the same agent in-process, on the cell's httpx client
    _record(project).assert_outcomes(passed=4)
    for cell in ("nostream-native-none", "nostream-native-http_503"):
        assert _snapshot(project, "prog", cell) == _snapshot(project, "own", cell)


def test_a_program_that_exits_non_zero_fails_the_cell_showing_its_stderr(project: pytest.Pytester) -> None:
    write_program_project(project, env={"MODE": "crash"}, **ONE_CELL)
    result = _record(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*outcome: expected 'completed', got 'failed'*",
            "*program:",
            "*prog.py * exit code 3 after *",
            "*stderr (last 2 lines):",
            "*RuntimeError: the agent gave up",
        ]
    )
    assert not (project.path / "cassettes/prog/openai/gpt-4o-mini/nostream-native-none.yaml").exists()


def test_a_hanging_program_is_killed_with_its_children_at_timeout_s(project: pytest.Pytester) -> None:
    pid_file = project.path / "child.pid"
    write_program_project(
        project, env={"MODE": "hang", "OUT": str(pid_file)}, **ONE_CELL, **{"timeout_s: 30": "timeout_s: 1"}
    )
    result = _record(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the program ran past agent.timeout_s=1s and was killed with its process group*"])
    child = int(pid_file.read_text())
    stat = Path(f"/proc/{child}/stat")

    def running() -> bool:
        # Gone, or a zombie its new parent has not reaped yet: either way it runs no more.
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    # SIGKILL is delivered asynchronously: on a busy machine the child may take a moment to die.
    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not running()


def test_the_program_sees_only_the_cells_variables(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key-never-for-a-replaying-program")
    monkeypatch.setenv("UNRELATED_SECRET", "s3cret")
    seen = project.path / "seen.json"
    write_program_project(project, env={"MODE": "env", "OUT": str(seen)}, **ONE_CELL)
    _record(project).assert_outcomes(passed=1)
    env = json.loads(seen.read_text())
    assert "UNRELATED_SECRET" not in env and env["OPENAI_API_KEY"] == env["OPENROUTER_API_KEY"] == "kylecode-replay"
    assert env["OPENAI_BASE_URL"].startswith("http://127.0.0.1:") and env["OPENAI_BASE_URL"].endswith("/v1")
    assert env["KYLECODE_BASE_URL_OPENAI"] == env["OPENAI_BASE_URL"]
    assert env["KYLECODE_BASE_URL_OPENROUTER"].endswith("/api/v1")  # the default failover route's provider
    assert (env["KYLECODE_ROUTE"], env["KYLECODE_STREAMING"], env["KYLECODE_MAX_STEPS"]) == (
        "openai/gpt-4o-mini",
        "false",
        "4",
    )
    assert Path(env["cwd"]).name != project.path.name and Path(env["KYLECODE_WORKSPACE"]) == Path(env["cwd"])
    assert env["PATH"] == os.environ["PATH"] and env["MODE"] == "env"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"agent:\n": "agent:\n  factory: x:y\n"},
            "*scenarios/prog.yaml:5: agent.command and agent.factory exclude each other*",
        ),
        (
            {"{report_file}": "{report}"},
            "*prog.yaml:4*unknown placeholder '{report}' (did you mean 'report_file'?)*",
        ),
        (
            {"{report_file}": "{base_url:openia}"},
            "*'{base_url:openia}' names no provider (did you mean 'openai'?)*",
        ),
        ({"  timeout_s: 30\n": "  timeout_s: 0\n"}, "*prog.yaml:5*agent.timeout_s*> 0*"),
    ],
)
def test_a_mistaken_command_names_its_line(project: pytest.Pytester, change: dict[str, str], message: str) -> None:
    write_program_project(project, **change)
    result = project.runpytest("--kylecode-matrix")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])


STALLING = """
name: stall
task: Say done.
agent:
  command: [{python}, "{{scenario_dir}}/../streamer.py"]
  timeout_s: 30
  timeouts: {{connect_s: 1, first_byte_s: 1, idle_s: 1}}
script: [{{text: Done.}}]
matrix: {{provider: [openai/gpt-4o-mini], streaming: [true], fault: [stall]}}
expect:
  outcome: completed
  completion_reason: provider_signal
  retries: 1
  files: {{seen.txt: "timed out after 1 s\\n"}}
  metrics: {{"routes[openai/gpt-4o-mini].errors.timeout": 1, summary.successes: 1}}
"""

# Streams one turn; a stream silent for KYLECODE_IDLE_TIMEOUT_S is given up and asked again.
STREAMER = """
import json, os, socket, urllib.request
from pathlib import Path

idle = float(os.environ["KYLECODE_IDLE_TIMEOUT_S"])
body = {"model": os.environ["KYLECODE_MODEL"], "stream": True, "messages": [{"role": "user", "content": "go"}]}
for attempt in range(2):
    url = os.environ["OPENAI_BASE_URL"] + "/chat/completions"
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=idle) as response:
            if any(line.strip() == b"data: [DONE]" for line in response):
                break
    except (TimeoutError, socket.timeout):
        Path("seen.txt").write_text(f"timed out after {idle:g} s\\n")
"""


def test_a_stall_is_a_real_silence_on_the_socket(project: pytest.Pytester) -> None:
    (project.path / "scenarios").mkdir()
    (project.path / "scenarios" / "stall.yaml").write_text(STALLING.format(python=sys.executable).lstrip())
    (project.path / "streamer.py").write_text(STREAMER)
    # The program's own 1 s idle timeout fires on the stalled stream; it asks again and completes.
    _record(project).assert_outcomes(passed=1)
