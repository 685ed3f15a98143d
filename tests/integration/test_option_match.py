"""Request matching users configure: a scenario's ``match:``, the ``kylecode_match_*`` ini keys and
the shipped defaults for fields that agent frameworks fill afresh on every run."""

from __future__ import annotations

import textwrap

import pytest

SCENARIO = """
name: volatile
task: Finish.
agent:
  factory: volatile_agent:run
  max_steps: 2
script:
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [false]
  tools: [native]
  fault: [none]
expect: {outcome: completed, steps: 1}
snapshot: false
"""

# An agent that, as openai-agents does, sends a fresh prompt_cache_key on every run, and a fresh
# uuid4 of its own in the body (the kind of field only the user can name).
AGENT = """
import uuid
from pytest_kylecode.byo import AgentReport

TOOLS = [{"type": "function", "function": {"name": "mark_task_complete", "parameters": {"type": "object"}}}]
EXTRA = {EXTRA}


def run(ctx):
    body = {"model": ctx.model, "messages": [{"role": "user", "content": ctx.task, "id": str(uuid.uuid4())}],
            "tools": TOOLS, "prompt_cache_key": "agents-sdk:run:" + uuid.uuid4().hex, **EXTRA}
    with ctx.httpx_client() as http:
        r = http.post(ctx.base_url + "/chat/completions", headers={"authorization": "Bearer " + ctx.api_key}, json=body)
    call = r.json()["choices"][0]["message"]["tool_calls"][0]
    return AgentReport(outcome="completed", completion_reason="tool_finish", steps=1,
                       tool_calls=[{"id": call["id"], "name": "mark_task_complete", "arguments": {}}],
                       tool_results=[{"id": call["id"]}])
"""


def _project(project: pytest.Pytester, match: str = "", extra: str = "{}") -> None:
    (project.path / "scenarios").mkdir(exist_ok=True)
    text = textwrap.dedent(SCENARIO).lstrip() + match
    (project.path / "scenarios" / "volatile.yaml").write_text(text, encoding="utf-8")
    (project.path / "volatile_agent.py").write_text(AGENT.replace("{EXTRA}", extra), encoding="utf-8")


def _record(project: pytest.Pytester) -> None:
    project.runpytest("--kylecode-matrix", "--kylecode-record=all").assert_outcomes(passed=1)


def _replay(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.RunResult:
    monkeypatch.setenv("CI", "true")
    return project.runpytest("--kylecode-matrix")


def test_a_uuid_in_the_body_misses_with_a_diff_that_marks_the_ignored_paths(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project)
    _record(project)
    result = _replay(project, monkeypatch)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*no recorded interaction matches POST https://api.openai.com/v1/chat/completions",
            "*ignored, not compared (<ignored> below): prompt_cache_key",
            '*-*"id": "*-*-*-*-*"*',
            '*+*"id": "*-*-*-*-*"*',
        ]
    )
    # the shipped default: openai-agents' key, different too, is no difference
    assert '"prompt_cache_key": "agents-sdk' not in result.stdout.str()


def test_naming_the_uuid_in_match_makes_the_replay_pass(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, "match: {ignore_body: [messages.*.id]}\n")
    _record(project)
    _replay(project, monkeypatch).assert_outcomes(passed=1)
    # ignored fields are still recorded
    cassette = next((project.path / "cassettes").rglob("*.yaml")).read_text()
    assert "prompt_cache_key: agents-sdk:run:" in cassette and "id: " in cassette


def test_a_prompt_cache_key_alone_replays_with_no_configuration(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _project(project, "match: {ignore_body: [messages.0.id]}\n")
    _record(project)
    _replay(project, monkeypatch).assert_outcomes(passed=1)


def test_the_ini_keys_mean_what_match_means(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project, extra='{"metadata": {"trace": str(uuid.uuid4())}}')
    project.makeini(
        "[pytest]\naddopts = -p no:cacheprovider\npythonpath = .\n"
        "kylecode_match_ignore_body =\n    messages.*.id\n    metadata.*\n"
    )
    _record(project)
    _replay(project, monkeypatch).assert_outcomes(passed=1)


def test_a_before_match_hook_rewrites_both_sides(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _project(project, "match: {before_match: 'hooks:drop_ids'}\n")
    (project.path / "hooks.py").write_text(
        "import dataclasses\n\n"
        "def drop_ids(request):\n"
        "    body = dict(request.body)\n"
        "    body['messages'] = [{k: v for k, v in m.items() if k != 'id'} for m in body['messages']]\n"
        "    return dataclasses.replace(request, body=body)\n",
        encoding="utf-8",
    )
    _record(project)
    _replay(project, monkeypatch).assert_outcomes(passed=1)


def test_re_recording_what_differs_only_in_ignored_fields_keeps_the_cassette(project: pytest.Pytester) -> None:
    _project(project, "match: {ignore_body: [messages.*.id]}\n")
    _record(project)
    cassette = next((project.path / "cassettes").rglob("*.yaml"))
    before = cassette.read_text()
    _record(project)
    assert cassette.read_text() == before


@pytest.mark.parametrize(
    ("match", "message"),
    [
        ("match: {ignore_body: [messages..id]}\n", "*scenarios/volatile.yaml:*: match.ignore_body.0: *no dotted path*"),
        ("match: {ignore: [x]}\n", "*scenarios/volatile.yaml:*: match.ignore: unknown key 'ignore'*"),
        ("match: {before_match: nohook}\n", "*volatile.yaml:*: match.before_match: *package.module:function*"),
    ],
)
def test_a_wrong_match_names_its_line_and_key(project: pytest.Pytester, match: str, message: str) -> None:
    _project(project, match)
    result = project.runpytest("--kylecode-matrix")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([message])


def test_a_wrong_ini_key_is_a_usage_error(project: pytest.Pytester) -> None:
    _project(project)
    project.makeini("[pytest]\naddopts = -p no:cacheprovider\nkylecode_match_ignore_body = a..b\n")
    result = project.runpytest("--kylecode-matrix")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*kylecode_match_ignore_body entry 1: *no dotted path*"])
