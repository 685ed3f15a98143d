"""A user's own agent through the matrix, both ways in: a scenario's factory, and a marked test."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import httpx
import pytest
import yaml

SCENARIO = """
name: own
task: Write notes.txt, then finish.
agent:
  factory: {factory}
  max_steps: 4
script:
  - tool_calls: [{name: write_file, arguments: {path: notes.txt, content: "hi\\n"}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [false]
  tools: [native]
  fault: [none, http_503]
expect: {outcome: completed, completion_reason: tool_finish, steps: 2, tool_sequence: [write_file, mark_task_complete],
         files: {notes.txt: "hi\\n"}}
overrides:
  - when: {fault: http_503}
    expect: {retries: 1, metrics: {summary.calls: 3, "routes[openai/gpt-4o-mini].errors.server_error": 1}}
"""

# A tiny agent on plain httpx: retries a 5xx once, runs write_file, stops at mark_task_complete.
AGENT = """
import json
from pathlib import Path
from pytest_kylecode.byo import AgentReport

TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
         for n in ("write_file", "mark_task_complete")]


def run(ctx):
    messages = [{"role": "user", "content": ctx.task}]
    calls, results = [], []
    with ctx.httpx_client() as http:
        for step in range(1, ctx.config.max_steps + 1):
            for _ in range(2):
                r = http.post(ctx.base_url + "/chat/completions", headers={"authorization": "Bearer " + ctx.api_key},
                              json={"model": ctx.model, "messages": messages, "tools": TOOLS})
                if r.status_code < 500:
                    break
            message = r.json()["choices"][0]["message"]
            messages.append(message)
            for call in message["tool_calls"]:
                args = json.loads(call["function"]["arguments"])
                calls.append({"id": call["id"], "name": call["function"]["name"], "arguments": args})
                results.append({"id": call["id"]})
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": "ok"})
                if call["function"]["name"] == "write_file":
                    (Path(ctx.workspace) / args["path"]).write_text(args["content"])
                else:
                    return AgentReport(outcome="completed", completion_reason="tool_finish", steps=step,
                                       tool_calls=calls, tool_results=results)
    return AgentReport(outcome="max_steps", tool_calls=calls, tool_results=results)


async def run_async(ctx):
    return run(ctx)


def crash(ctx):
    with ctx.httpx_client() as http:
        http.post(ctx.base_url + "/chat/completions",
                  json={"model": ctx.model, "messages": [{"role": "user", "content": "x"}]})
    raise ValueError("boom")


def wrong(ctx):
    return {"outcome": "done"}


def silent(ctx):
    return None


def reports_itself(ctx):
    ctx.report(run(ctx))


NOT_CALLABLE = 3
"""


def _project(project: pytest.Pytester, factory: str = "myagent:run", **replace: str) -> None:
    text = SCENARIO.replace("{factory}", factory)
    for old, new in replace.items():
        text = text.replace(old, new)
    (project.path / "scenarios").mkdir(exist_ok=True)
    (project.path / "scenarios" / "own.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (project.path / "myagent.py").write_text(AGENT, encoding="utf-8")


def _record(project: pytest.Pytester, *args: str) -> pytest.RunResult:
    return project.runpytest("--kylecode-matrix", "--kylecode-record=all", "--snapshot-update", *args)


def _replay(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, *args: str) -> pytest.RunResult:
    monkeypatch.setenv("CI", "true")
    return project.runpytest("--kylecode-matrix", *args)


def test_a_factory_agent_records_then_replays(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project)
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
    _project(project, factory)
    _record(project).assert_outcomes(passed=2)


def test_expectations_are_checked_against_the_report_and_the_traffic(project: pytest.Pytester) -> None:
    _project(project, **{"retries: 1": "retries: 0"})
    result = _record(project)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*cell own[[]openai/gpt-4o-mini-nostream-native-http_503] did not behave as expected",
            "*expectations (expected vs actual):",
            "*retries: expected 0, got 1  (expected by scenarios/own.yaml:*)",
        ]
    )


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
    _project(project, factory, **{"fault: [none, http_503]": "fault: [none]"})
    result = _record(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


def test_a_crashing_agent_names_the_exception_where_and_the_traffic(project: pytest.Pytester) -> None:
    _project(project, "myagent:crash", **{"fault: [none, http_503]": "fault: [http_503]"})
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


def test_a_replay_miss_is_reported_with_its_diff(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project, **{"fault: [none, http_503]": "fault: [none]"})
    _record(project).assert_outcomes(passed=1)
    agent = project.path / "myagent.py"
    agent.write_text(agent.read_text().replace('"content": "ok"', '"content": "done"'))
    result = _replay(project, monkeypatch)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*no recorded interaction matches POST https://api.openai.com/v1/chat/completions", '*+*"content": "done"*']
    )


# -- the fixture way ------------------------------------------------------------------------------

TEST_FILE = """
import pytest
import myagent


@pytest.mark.kylecode_scenario("scenarios/own.yaml")
def test_agent(kylecode_cell):
    assert kylecode_cell.route == "openai/gpt-4o-mini"
    kylecode_cell.report(myagent.run(kylecode_cell))


def test_plain():
    pass  # an ordinary test beside the marked one: untouched by the plugin
"""


def _fixture_project(project: pytest.Pytester, test: str = TEST_FILE) -> None:
    _project(project, "myagent:not_used")
    project.makepyfile(test_own_agent=test)  # (a name no other test module uses)


def test_a_marked_test_runs_once_per_cell(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _fixture_project(project)
    result = project.runpytest("--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "test_own_agent.py::test_agent[[]openai/gpt-4o-mini-nostream-native-none]",
            "test_own_agent.py::test_agent[[]openai/gpt-4o-mini-nostream-native-http_503]",
            "test_own_agent.py::test_plain",
        ]
    )
    # no --kylecode-matrix needed; record, then replay under CI
    project.runpytest("--kylecode-record=all", "--snapshot-update").assert_outcomes(passed=3)
    assert (project.path / "__snapshots__/test_agent/openai/gpt-4o-mini-nostream-native-http_503.json").exists()
    assert (project.path / "cassettes/own/openai/gpt-4o-mini/nostream-native-http_503.yaml").exists()
    monkeypatch.setenv("CI", "true")
    project.runpytest().assert_outcomes(passed=3)
    # with the matrix flag, the test's cells join the matrix report
    result = project.runpytest("--kylecode-matrix", "test_own_agent.py")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["own*none*http_503*", "openai/gpt-4o-mini*1/1*1/1*"])


def test_snapshot_update_keeps_the_snapshots_of_cells_that_did_not_run(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under an outer xdist run the inner session must not believe it is a worker: syrupy defers
    # its deletions to a controller there, and the test could not fail.
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    _fixture_project(project)
    project.runpytest("--kylecode-record=all", "--snapshot-update").assert_outcomes(passed=3)
    snapshots = project.path / "__snapshots__"
    before = {p: p.read_bytes() for p in sorted(snapshots.rglob("*")) if p.is_file()}
    assert len(before) == 2
    # The first cell fails before its snapshot (no cassette) and -x stops there: no cell of the
    # session reaches a snapshot, the other one never runs.
    (project.path / "cassettes/own/openai/gpt-4o-mini/nostream-native-none.yaml").unlink()
    monkeypatch.setenv("CI", "true")
    project.runpytest("--snapshot-update", "-x").assert_outcomes(failed=1)
    assert {p: p.read_bytes() for p in sorted(snapshots.rglob("*")) if p.is_file()} == before


def test_a_marked_test_fails_with_the_cell_report(project: pytest.Pytester) -> None:
    _fixture_project(project)
    (project.path / "scenarios/own.yaml").write_text(
        (project.path / "scenarios/own.yaml").read_text().replace("steps: 2", "steps: 3")
    )
    result = project.runpytest("--kylecode-record=all", "--snapshot-update")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*own[[]openai/gpt-4o-mini-nostream-native-none] did not behave as expected",
            "*steps: expected 3, got 2  (expected by scenarios/own.yaml:*)",
            "the cassette and the metrics snapshot were left as they were; once the cause is "
            "fixed, re-record this cell: env -u CI pytest --kylecode-matrix "
            "--kylecode-record=rewrite --snapshot-update "
            "'test_own_agent.py::test_agent[[]openai/gpt-4o-mini-nostream-native-none]'",
        ]
    )
    assert "Traceback" not in result.stdout.str() and "run_test_cell" not in result.stdout.str()


def test_a_test_body_failure_stays_the_tests_own(project: pytest.Pytester) -> None:
    _fixture_project(project, TEST_FILE.replace('== "openai/gpt-4o-mini"', '== "anthropic/x"'))
    result = project.runpytest("--kylecode-record=all", "--snapshot-update")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*AssertionError: assert 'openai/gpt-4o-mini' == 'anthropic/x'*"])


@pytest.mark.parametrize(
    ("test", "message"),
    [
        (
            "def test_x(kylecode_cell):\n    pass\n",
            "the `kylecode_cell` fixture needs @pytest.mark.kylecode_scenario('path/to/scenario.yaml') on the test",
        ),
        (
            '@pytest.mark.kylecode_scenario("scenarios/broken.yaml")\ndef test_x(kylecode_cell):\n    pass\n',
            "invalid scenario: */scenarios/broken.yaml:1: missing required key 'task'",
        ),
        (
            '@pytest.mark.kylecode_scenario("scenarios/absent.yaml")\ndef test_x(kylecode_cell):\n    pass\n',
            "invalid scenario: */scenarios/absent.yaml: cannot read it (No such file or directory)",
        ),
    ],
)
def test_fixture_mistakes_fail_their_test_only(project: pytest.Pytester, test: str, message: str) -> None:
    _project(project)
    (project.path / "scenarios" / "broken.yaml").write_text("script: [{text: hi}]\nmatrix: {provider: [openai/x]}\n")
    project.makepyfile(test_mistake="import pytest\n" + test + "\ndef test_other():\n    pass\n")
    result = project.runpytest("test_mistake.py")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize(
    ("test", "message"),
    [
        (
            '@pytest.mark.kylecode_scenario("scenarios/own.yaml")\ndef test_x():\n    pass\n',
            "In test_x: @pytest.mark.kylecode_scenario needs the test to take the `kylecode_cell` fixture",
        ),
        (
            "@pytest.mark.kylecode_scenario()\ndef test_x(kylecode_cell):\n    pass\n",
            "In test_x: @pytest.mark.kylecode_scenario takes one argument, the scenario file's path; got args=() kwargs={}",
        ),
    ],
)
def test_a_misused_marker_is_a_collection_error_like_parametrize(
    project: pytest.Pytester, test: str, message: str
) -> None:
    _project(project)
    project.makepyfile(test_mistake="import pytest\n" + test)
    result = project.runpytest("test_mistake.py")
    result.assert_outcomes(errors=1)  # a collection error of test_mistake.py, nothing ran
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


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
    from pytest_kylecode.emulator.server import EmulatorServer

    source = (EXAMPLES / "scenarios" / "openai_sdk_agent.yaml").read_text()
    # (wall-clock latencies of a live recording are no baseline for replays: no snapshot here)
    scenario = (
        source.replace("fault: [none, http_503, {kind: html_200, times: 2}, truncated_stream]", "fault: [none]")
        + "snapshot: false\n"
    )
    (project.path / "scenarios").mkdir()
    (project.path / "scenarios" / "openai_sdk_agent.yaml").write_text(scenario)
    project.makeini(f"[pytest]\naddopts = -p no:cacheprovider\npythonpath = {EXAMPLES}\n")
    script = parse_script(yaml.safe_load(scenario)["script"])
    upstream = Headers(EmulatorTransport(script, timing=IMMEDIATE))
    with EmulatorServer(upstream) as server:
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
