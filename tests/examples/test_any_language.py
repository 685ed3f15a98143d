"""The any-language examples of docs/any-language.md, run the way a user runs them: pytest in
examples/any_language/, offline, CI=true, two workers. Each agent is a real program on real
sockets; its committed cassettes replay and its committed metrics snapshots match."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from example_projects import replay_example

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "any_language"
SNAPSHOTS = EXAMPLES / "scenarios" / "__snapshots__"
ROUTE = "openai/gpt-4o-mini"
FAULTS = ("none", "http_429", "http_503", "html_200", "truncated_stream", "sse_error", "malformed_tool_args")


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("any_language")
    result = replay_example(EXAMPLES, tmp, "--kylecode-keep-runs", "-n", "2")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    report: dict[str, Any] = json.loads((tmp / "report" / "report.json").read_text())
    report["runs"] = tmp / "runs"
    return report


def stderr_of(replay: dict[str, Any], scenario: str, cell: str) -> str:
    """What the program of ``scenario`` printed to stderr in ``cell`` (its run directory keeps it)."""
    (run_dir,) = [d for d in replay["runs"].iterdir() if f"_{scenario}_" in d.name and d.name.count(cell)]
    return (run_dir / "program" / "stderr.txt").read_text()


def snapshot(scenario: str, cell: str) -> dict[str, Any]:
    return json.loads((SNAPSHOTS / scenario / f"{cell}.json").read_text())  # type: ignore[no-any-return]


PROGRAMS = ("python_stdlib_agent", "shell_curl_agent", "node_openai_agent")


def _needs(scenario: str) -> None:
    if scenario == "shell_curl_agent" and shutil.which("curl") is None:
        pytest.skip("curl is not on PATH (.ci/run installs it): the shell agent's cells skip")
    if scenario == "node_openai_agent" and shutil.which("node") is None:
        pytest.skip("node is not on PATH: the Node agent's cells skip")
    if scenario == "node_openai_agent" and not (EXAMPLES / "node_modules" / "openai").is_dir():
        pytest.skip("examples/any_language/node_modules is absent (run npm ci there): the Node agent's cells skip")


@pytest.mark.parametrize("scenario", PROGRAMS)
def test_each_program_replays_every_fault(replay: dict[str, Any], scenario: str) -> None:
    _needs(scenario)
    cells = [row for row in replay["cells"] if row["scenario"] == scenario]
    assert {row["fault"] for row in cells} == set(FAULTS)
    assert len(cells) == 12 and {row["outcome"] for row in cells} == {"passed"}


@pytest.mark.parametrize("streaming", ["stream", "nostream"])
@pytest.mark.parametrize("scenario", PROGRAMS)
def test_each_program_recovers_as_its_code_says(replay: dict[str, Any], scenario: str, streaming: str) -> None:
    _needs(scenario)
    limited = snapshot(scenario, f"{ROUTE}-{streaming}-native-http_429")
    assert limited["routes"][ROUTE]["errors"] == {"rate_limit": 1} and limited["summary"]["retries"] == 1
    html = snapshot(scenario, f"{ROUTE}-{streaming}-native-html_200")
    assert (html["summary"]["html_errors"], html["completion"]["outcome"]) == (1, "completed")
    broken = snapshot(scenario, f"{ROUTE}-{streaming}-native-malformed_tool_args")
    assert (broken["summary"]["errors"], broken["completion"]["steps"]) == (0, 3)


def test_a_program_without_a_report_is_read_from_its_exit_and_its_requests(replay: dict[str, Any]) -> None:
    _needs("shell_curl_agent")
    # The shell agent writes no report: its tool calls and results come from the traffic, and
    # they say the same as the Python agent's own report does.
    for cell in (f"{ROUTE}-stream-native-none", f"{ROUTE}-nostream-native-malformed_tool_args"):
        assert snapshot("shell_curl_agent", cell)["completion"] == snapshot("python_stdlib_agent", cell)["completion"]


@pytest.mark.parametrize("streaming", ["stream", "nostream"])
def test_the_node_program_meets_each_fault_under_the_sdks_own_name(replay: dict[str, Any], streaming: str) -> None:
    _needs("node_openai_agent")
    seen = {
        fault: stderr_of(replay, "node_openai_agent", f"gpt-4o-mini-{streaming}-native-{fault}_")
        for fault in ("http_429", "http_503", "html_200")
    }
    assert "attempt 1: RateLimitError: 429 " in seen["http_429"]
    assert "attempt 1: InternalServerError: 503 " in seen["http_503"]
    if streaming == "stream":
        sse = stderr_of(replay, "node_openai_agent", "gpt-4o-mini-stream-native-sse_error_")
        assert "attempt 1: APIError: " in sse  # the SDK raises the error event of the stream
        assert "the stream ended before its finish" in seen["html_200"]
    else:
        assert "a body that is no chat completion" in seen["html_200"]  # the SDK hands an HTML page over as text
