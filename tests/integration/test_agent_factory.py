"""A user's own agent through the matrix by a scenario's ``agent.factory``; the other way in is the
``kylecode_cell`` fixture (test_kylecode_cell_fixture.py)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml
from own_agent import write_project


def _record(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--kylecode-matrix", "--kylecode-record=all", "--snapshot-update", *args)


def _replay(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    monkeypatch.setenv("CI", "true")
    return project.runpytest("--kylecode-matrix", *args)


def test_a_factory_agent_records_then_replays(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(project)
    _record(project).assert_outcomes(passed=2)
    cassette = project.path / "cassettes/own/openai/gpt-4o-mini/nostream-native-http_503.yaml"
    assert cassette.exists() and cassette.read_text().count("uri: https://api.openai.com/v1/chat/completions") == 2
    stored = project.path / "scenarios/__snapshots__/own/openai/gpt-4o-mini-nostream-native-http_503.json"
    snapshot = json.loads(stored.read_text())
    assert snapshot["summary"]["retries"] == 1 and snapshot["completion"]["outcome"] == "completed"
    result = _replay(project, monkeypatch)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["own*none*http_503*", "openai/gpt-4o-mini*1/1*1/1*"])


@pytest.mark.parametrize("factory", ["myagent:run_async", "myagent:reports_itself"])
def test_async_factories_and_self_reporting_agents(project: pytest.Pytester, factory: str) -> None:
    write_project(project, factory)
    _record(project).assert_outcomes(passed=2)


def test_expectations_are_checked_against_the_report_and_the_traffic(project: pytest.Pytester) -> None:
    write_project(project, **{"retries: 1": "retries: 0"})
    result = _record(project)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*cell own[[]openai/gpt-4o-mini-nostream-native-http_503] did not behave as expected",
            "*expectations (expected vs actual):",
            "*retries: expected 0, got 1  (expected by scenarios/own.yaml:*)",
        ]
    )


def test_a_stated_pairing_expectation_replaces_the_invariant(project: pytest.Pytester) -> None:
    """An agent that answers a call without sending its result back: the invariant fails the cell,
    unless the scenario states ``tool_calls_paired: false``, which is then what is checked."""
    edits = {
        "fault: [none, http_503]": "fault: [none]",
        "tool_sequence: [write_file, mark_task_complete]": "tool_sequence: [write_file]",
    }
    write_project(project, "myagent:drops_the_last_result", **edits)
    result = _record(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["invariants:", "*a tool call in the transcript has no result, or more than one"])
    write_project(
        project, "myagent:drops_the_last_result", **edits, **{"steps: 2,": "steps: 2, tool_calls_paired: false,"}
    )
    _record(project).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("nope:run", "agent.factory 'nope:run': cannot import module 'nope' (No module named 'nope')*"),
        ("myagent:missing", "agent.factory 'myagent:missing': 'myagent' has no attribute 'missing'"),
        ("myagent:NOT_CALLABLE", "agent.factory 'myagent:NOT_CALLABLE': 'NOT_CALLABLE' is a int, not a callable*"),
        (
            "myagent:wrong",
            "the agent's report is invalid: AgentReport.outcome: expected one of completed, failed, "
            "max_steps, loop_guard, got 'done'",
        ),
        ("myagent:silent", "the agent reported nothing: return an AgentReport from the factory, or call*"),
    ],
)
def test_factory_mistakes_fail_the_cell_readably(project: pytest.Pytester, factory: str, message: str) -> None:
    write_project(project, factory, **{"fault: [none, http_503]": "fault: [none]"})
    result = _record(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


def test_a_crashing_agent_names_the_exception_where_and_the_traffic(project: pytest.Pytester) -> None:
    write_project(project, "myagent:crash", **{"fault: [none, http_503]": "fault: [http_503]"})
    result = _record(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "cell own[[]openai/gpt-4o-mini-nostream-native-http_503]: the agent raised ValueError: boom",
            '  raised at */myagent.py:* in crash: raise ValueError("boom")',
            "provider traffic: openai/gpt-4o-mini: 1 call(s), 0 ok, server_error 1, 0 retried",
            "an agent must not crash on provider trouble*",
        ]
    )


def test_a_failed_run_shows_the_error_the_agent_caught(project: pytest.Pytester) -> None:
    """An agent (or its framework) that catches its own exception and reports the run failed: the
    failure names the exception and the line of the agent's code that raised it, though no
    provider call failed."""
    write_project(project, "myagent:catches_its_own_error", **{"fault: [none, http_503]": "fault: [none]"})
    result = _record(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "run: outcome failed (AttributeError: 'tuple' object has no attribute 'choices', "
            "raised at */myagent.py:* in catches_its_own_error: answer.choices); *calls 1 (errors 0)*"
        ]
    )


def test_a_replay_miss_is_reported_with_its_diff(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(project, **{"fault: [none, http_503]": "fault: [none]"})
    _record(project).assert_outcomes(passed=1)
    agent = project.path / "myagent.py"
    agent.write_text(agent.read_text().replace('"content": "ok"', '"content": "done"'))
    result = _replay(project, monkeypatch)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no recorded interaction matches POST https://api.openai.com/v1/chat/completions", '*+*"content": "done"*']
    )


# -- recording from a live upstream ----------------------------------------------------------------

CANARY = "sk-proj-CANARYbyo0000111122223333"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Headers(httpx.BaseTransport):
    """The emulator, keeping the headers of every request (what reached the wire)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[dict[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(dict(request.headers))
        return self.inner.handle_request(request)


def test_an_sdk_agent_records_from_a_live_upstream(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """Live recording with real HTTP and a real key (a canary), against a loopback emulator."""
    from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport, parse_script
    from pytest_kylecode.loopback import LoopbackServer

    source = (EXAMPLES / "scenarios" / "openai_sdk_agent.yaml").read_text()
    # (wall-clock latencies of a live recording are no baseline for replays: no snapshot here)
    data = yaml.safe_load(source)
    data["matrix"]["fault"] = ["none"]
    del data["overrides"]  # they are for the fault cells, which this recording leaves out
    data["snapshot"] = False
    scenario = yaml.safe_dump(data, sort_keys=False)
    (project.path / "scenarios").mkdir()
    (project.path / "scenarios" / "openai_sdk_agent.yaml").write_text(scenario)
    project.makeini(f"[pytest]\naddopts = -p no:cacheprovider\npythonpath = {EXAMPLES}\n")
    script = parse_script(yaml.safe_load(scenario)["script"])
    upstream = Headers(EmulatorTransport(script, timing=IMMEDIATE))
    with LoopbackServer(upstream) as server:
        monkeypatch.setenv("KYLECODE_OPENAI_BASE_URL", server.url + "/v1")
        monkeypatch.setenv("OPENAI_API_KEY", CANARY)
        result = project.runpytest("--kylecode-matrix", "--kylecode-upstream=live", "--kylecode-record=all")
    result.assert_outcomes(passed=2)
    assert len(upstream.seen) == 8 and all(h["authorization"] == f"Bearer {CANARY}" for h in upstream.seen)
    for cassette in (project.path / "cassettes").rglob("*.yaml"):
        text = cassette.read_text()
        assert "uri: https://api.openai.com/v1/chat/completions" in text and "127.0.0.1" not in text
        assert "CANARY" not in text
    # and the recording replays offline, with the placeholder key and the canonical URL
    monkeypatch.delenv("KYLECODE_OPENAI_BASE_URL")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("CI", "true")
    project.runpytest("--kylecode-matrix").assert_outcomes(passed=2)
