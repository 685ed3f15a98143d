"""The bad-input corpus (``bad_inputs/``): every malformed file through every entry point that reads it.

Each input must give a clear message naming the file, the line or the key, and the fix (a did-you-mean,
the expected values, or what to do) — never a traceback — and the good inputs next to it must still work:

- ``bad_inputs/scenarios/`` through ``kylecode scenarios validate DIR`` and through the pytest plugin
  (one failing item per bad file, the control scenario still passes, no collection error);
- ``bad_inputs/configs/`` through ``kylecode run CONFIG``;
- ``bad_inputs/cassettes/`` through ``kylecode inspect`` and through the plugin's replay (the cell using the
  cassette fails naming it and the re-record command; the other cells pass), plus a cassette of another
  protocol dropped into a cell's place.

The tables below list what each message must contain; every file of the corpus has an entry.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "bad_inputs"
KNOWN = "known providers: openai"

CONTROL = """\
name: good
task: List the workspace, then finish.
workspace: {README.md: "# demo\\n"}
agent: {max_steps: 4, failover: []}
script:
  - tool_calls: [{name: list_dir, arguments: {path: "."}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [true]
  tools: [native]
  fault: [none]
expect: {outcome: completed}
snapshot: false
"""

# file -> what its message must say: where (file:line and/or key) and the fix.
SCENARIOS: dict[str, list[str]] = {
    "agent_sets_route.yaml": [":4", "agent.route", "set per cell by the matrix; remove it"],
    "agent_unknown_key.yaml": [":4", "agent.max_step", "did you mean 'max_steps'?"],
    "agent_wrong_type.yaml": [":4", "agent.max_steps", "expected an integer >= 1, got 'eight'"],
    "alias_bomb.yaml": [":9", "YAML aliases expand", "use fewer aliases"],
    "axis_value_twice.yaml": [":9", "matrix.provider[1]", "is listed twice"],
    "deep_nesting.yaml": [":6", "nests deeper than 100 levels", "flatten it"],
    "duplicate_key.yaml": [":15", "duplicate key 'expect' (first given on line 13)", "merge the two"],
    "duplicate_scenario_name.yaml": [":1", "'good' is already used by", "set a different 'name:'"],
    "empty_file.yaml": [":1", "a scenario file is a mapping with keys name, description, task", "got nothing"],
    "empty_matrix.yaml": [":9", "matrix.provider", "list at least one route 'provider/model'"],
    "empty_tools_axis.yaml": [":11", "'matrix.tools' lists no value"],
    "exclude_empty_selector.yaml": [":15", "exclude[0]", "name at least one axis"],
    "expect_bad_comparison.yaml": [":13", "expect.steps", 'such as ">=1" or "<=6"'],
    "expect_unknown_category.yaml": [":13", "expect.error_category", "did you mean 'rate_limit'?"],
    "expect_unknown_key.yaml": [":13", "expect.outcom", "did you mean 'outcome'?"],
    "expect_unknown_outcome.yaml": [
        ":13",
        "expect.outcome",
        "did you mean 'completed'?",
        "expected one of: completed, failed, max_steps, loop_guard",
    ],
    "failover_unknown_provider.yaml": [":4", "agent.failover[0]", "did you mean 'openrouter'?", KNOWN],
    "fault_at_zero.yaml": [":12", "matrix.fault[0].at", "expected a number >= 1, got 0"],
    "fault_unknown_key.yaml": [":12", "matrix.fault[0].tmes", "did you mean 'times'?"],
    "missing_task.yaml": [":1", "missing required key 'task'"],
    "ms_on_wrong_fault.yaml": [":12", "matrix.fault[0].ms", "only applies to the latency fault"],
    "name_bad_characters.yaml": [":1", "may use letters, digits, '_', '-' and '.'", "'my scenario!'"],
    "not_utf8.yaml": [":2", "not UTF-8", "save the file as UTF-8"],
    "override_unknown_axis.yaml": [":16", "overrides[0].when.provder", "did you mean 'provider'?"],
    "override_matches_no_cell.yaml": [":16", "overrides[0].when.fault", "'http_503' matches no fault of the matrix"],
    "override_selects_only_excluded.yaml": [":18", "overrides[0].when", "matches no cell that runs", "excluded"],
    "exclude_matches_no_cell.yaml": [":16", "exclude[0]", "matches no cell that runs", "excludes nothing"],
    "exclude_unknown_route.yaml": [":16", "exclude[0].provider[1]", "'anthropc/*' matches no provider"],
    "metrics_unknown_path.yaml": [":15", "expect.metrics.summary.retry", "did you mean 'retries'?"],
    "metrics_unknown_category.yaml": [
        ":16",
        "routes[openai/gpt-4o-mini].errors has no key 'stream_truncted'",
        "did you mean 'stream_truncated'?",
    ],
    "script_unknown_tool.yaml": [":6", "script[0].tool_calls[0].name", "did you mean 'list_dir'?", "its tools are"],
    "override_without_when.yaml": [":16", "overrides[0]", "needs 'when:'"],
    "python_tag.yaml": [":2", "python/object/apply:os.system", "never loaded"],
    "recovery_unknown_action.yaml": [":4", "agent.recovery.rate_limit.action", "did you mean 'retry'?"],
    "recovery_unknown_category.yaml": [":4", "agent.recovery.rate_limits", "did you mean 'rate_limit'?"],
    "route_without_model.yaml": [":9", "matrix.provider[0]", "a route is 'provider/model'"],
    "script_arguments_not_mapping.yaml": [":6", "script[0].tool_calls[0].arguments", "use raw_arguments"],
    "script_empty.yaml": [":5", "script", "a non-empty list of turns"],
    "script_unknown_turn_key.yaml": [":6", "script[0].tool_call", "did you mean 'tool_calls'?"],
    "streaming_wrong_type.yaml": [":10", "matrix.streaming[0]", "expected true or false, got 'yes'"],
    "syntax_error.yaml": [":3", "invalid YAML", "(in what starts on line 2)"],
    "tab_indent.yaml": [":11", "invalid YAML", "YAML indents with spaces only"],
    "task_wrong_type.yaml": [":2", "expected the task as a string, got a list"],
    "timeout_negative.yaml": [":4", "agent.timeouts.idle_s", "expected a number >= 0"],
    "top_level_list.yaml": [":1", "a scenario file is a mapping with keys", "got a list"],
    "unknown_fault.yaml": [":12", "matrix.fault[1]", "did you mean 'http_503'?", "expected one of: none, http_400"],
    "unknown_provider.yaml": [":9", "matrix.provider[0]", "did you mean 'openai'?", KNOWN],
    "unknown_tool_mode.yaml": [":11", "matrix.tools[0]", "did you mean 'native'?", "expected one of: native, text"],
    "unknown_top_key.yaml": [":5", "did you mean 'script'?", "allowed keys: name, description"],
    "workspace_escape.yaml": [":3", "workspace.../escape.txt", "would leave the workspace"],
    # Names that become paths: none may lead out of its tree or fail to be a file name.
    "route_escape.yaml": [":9", "matrix.provider[0]", "the segment '..'", "cassette and snapshot trees"],
    "route_empty_segment.yaml": [":9", "matrix.provider[0]", "the segment ''", "it is empty"],
    "route_reserved_name.yaml": [":9", "matrix.provider[0]", "'con' is a device name reserved on Windows"],
    "name_dot_dot.yaml": [":1", "the scenario name '..'", "names a directory"],
    "workspace_absolute.yaml": [":3", "workspace./etc/kylecode-x", "it is absolute"],
    "workspace_empty_key.yaml": [":3", "workspace path ''", "plain form"],
    "workspace_dot_key.yaml": [":3", "workspace path '.'", "plain form"],
    "workspace_nul_key.yaml": [":3", "'a\\x00b.txt'", "it contains a NUL byte"],
    "workspace_file_and_dir.yaml": [":3", "workspace path 'x' is a file", "'x/y' needs it to be a directory"],
    "workspace_long_name.yaml": [":3", "it is 300 bytes long; a file name has at most 255"],
}
# Generated, not committed: a 2 MB file that is one line of garbage.
HUGE = ("zz_one_huge_line.yaml", [":1", "a scenario file is a mapping", "(2000000 characters)"])

CONFIGS: dict[str, list[str]] = {
    "bad_base_part.yaml": ["bad_base_part.yaml:3", "recovery.rate_limit.max_retrys", "did you mean 'max_retries'?"],
    "broken_yaml_part.yaml": ["broken_yaml_part.yaml:2", "invalid YAML", "(in what starts on line 1)"],
    # Deeper than libyaml's own limit too: the project's words come first whatever PyYAML is installed.
    "deep_nesting.yaml": ["deep_nesting.yaml:2", "nests deeper than 100 levels", "flatten it"],
    "duplicate_key.yaml": ["duplicate_key.yaml:2", "duplicate key 'route' (first given on line 1)", "remove one"],
    # The error lives in the file reached through `extends`: that file and its line are named.
    "extends_bad_base.yaml": ["bad_base_part.yaml:3", "max_retrys", "did you mean 'max_retries'?"],
    "extends_broken_yaml.yaml": ["broken_yaml_part.yaml:2", "invalid YAML"],
    "extends_cycle.yaml": ["extends_cycle.yaml", "'extends' forms a cycle", "extends_cycle_other.yaml"],
    "extends_cycle_other.yaml": ["extends_cycle_other.yaml", "'extends' forms a cycle"],
    "extends_missing.yaml": ["extends_missing.yaml", "extends", "cannot read agent config", "no_such_base.yaml'"],
    "extends_not_a_string.yaml": ["extends_not_a_string.yaml", "extends", "expected a file name"],
    "failover_unknown_provider.yaml": [
        "failover_unknown_provider.yaml:2",
        "failover[1]",
        "did you mean 'anthropic'?",
        KNOWN,
    ],
    "negative_retries.yaml": [
        "negative_retries.yaml:2",
        "recovery.rate_limit.max_retries",
        "expected an integer >= 0, got -1",
    ],
    "no_route.yaml": ["no_route.yaml", "no route", "add 'route: provider/model'"],
    "not_utf8.yaml": ["not_utf8.yaml", "not UTF-8", "save the file as UTF-8"],
    "python_tag.yaml": ["python_tag.yaml:2", "python/object/apply:os.system"],
    "syntax_error.yaml": ["syntax_error.yaml:3", "invalid YAML", "(in what starts on line 2)"],
    "top_level_list.yaml": ["top_level_list.yaml", "expected a mapping at the top level, got list"],
    "unknown_key.yaml": ["unknown_key.yaml:2", "'max_step'", "did you mean 'max_steps'?"],
    "unknown_provider.yaml": ["unknown_provider.yaml:1", "'opnai'", "did you mean 'openai'?", KNOWN],
    "wrong_type.yaml": ["wrong_type.yaml:2", "max_steps", "expected an integer >= 1, got 'many'"],
}

# file -> (what `kylecode inspect` must say, what the cell replaying it must say besides its path)
CASSETTES: dict[str, tuple[list[str], list[str]]] = {
    "alias_bomb.yaml": ([":12", "YAML aliases expand", "use fewer aliases"], ["YAML aliases expand"]),
    "binary_garbage.yaml": ([":1", "corrupt cassette", "not UTF-8", "save the file as UTF-8"], ["corrupt cassette"]),
    "empty.yaml": (["not a vcrpy cassette", "expected a mapping with an 'interactions' list"], ["not a cassette"]),
    "interactions_not_a_list.yaml": (["not a cassette", "'interactions' list"], ["not a cassette"]),
    "missing_response.yaml": (["interaction 1 is corrupt", "'response'"], ["interaction 1 is corrupt"]),
    "not_utf8.yaml": (["corrupt cassette", "not UTF-8"], ["corrupt cassette"]),
    "python_tag.yaml": ([":12", "python/object/apply:os.system"], ["python/object/apply:os.system"]),
    "sse_event_without_time.yaml": (["interaction 0 is corrupt", "'t'"], ["interaction 0 is corrupt"]),
    "status_not_a_number.yaml": (["interaction 0 is corrupt", "'OK'"], ["interaction 0 is corrupt"]),
    "top_level_list.yaml": (["not a vcrpy cassette"], ["not a cassette"]),
    "truncated.yaml": (["interaction 1 is corrupt"], ["interaction 1 is corrupt"]),
    "vcr_bad_gzip.yaml": (["interaction 0 is corrupt", "decompress"], []),  # vcrpy-only; replay reads ours
    "version_2.yaml": (["unsupported cassette version 2", "re-record it"], ["unsupported cassette version 2"]),
}


def test_the_corpus_is_large_and_every_file_has_an_expectation() -> None:
    files = {kind: sorted(p.name for p in (CORPUS / kind).iterdir()) for kind in ("scenarios", "configs", "cassettes")}
    assert files["scenarios"] == sorted(SCENARIOS)
    assert files["configs"] == sorted(CONFIGS)
    assert files["cassettes"] == sorted(CASSETTES)
    assert sum(len(v) for v in files.values()) >= 30


def _check(message: str, expected: list[str], where: str) -> list[str]:
    problems = [f"{where}: missing {e!r} in: {message}" for e in expected if e not in message]
    if "Traceback" in message or re.search(r"\bFile \".*\", line \d+", message):
        problems.append(f"{where}: a traceback: {message}")
    return problems


def _scenario_dir(root: Path) -> Path:
    directory = root / "scenarios"
    directory.mkdir()
    for name in SCENARIOS:
        shutil.copyfile(CORPUS / "scenarios" / name, directory / name)
    (directory / "aaa_control.yaml").write_text(CONTROL, encoding="utf-8")  # collected first: keeps its name
    (directory / HUGE[0]).write_text("x" * 2_000_000, encoding="utf-8")
    return directory


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env_drop = ("CI", "KYLECODE_TELEMETRY_PATH")
    import os

    env = {k: v for k, v in os.environ.items() if k not in env_drop}
    return subprocess.run(
        [sys.executable, "-m", "pytest_kylecode.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_scenarios_through_kylecode_scenarios_validate(tmp_path: Path) -> None:
    directory = _scenario_dir(tmp_path)
    result = _cli("scenarios", "validate", str(directory), cwd=tmp_path)
    assert result.returncode == 1 and not result.stderr.strip(), result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("ok ") and "aaa_control.yaml" in line for line in lines)
    problems = []
    for name, expected in [*SCENARIOS.items(), HUGE]:
        mine = [
            line
            for line in lines
            if line.startswith(f"INVALID {directory / name}:") or line.startswith(f"INVALID {directory / name}: ")
        ]
        if len(mine) != 1:
            problems.append(f"{name}: expected one INVALID line, got {mine}")
            continue
        problems += _check(mine[0], [f"{name}{expected[0]}", *expected[1:]], name)
        if len(mine[0]) > 2000:
            problems.append(f"{name}: a message of {len(mine[0])} characters")
    assert lines[-1] == f"1 valid, {len(SCENARIOS) + 1} invalid scenario files; 1 cells"
    assert not problems, "\n".join(problems)


def _junit_failures(path: Path) -> dict[str, str]:
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            out[f"{case.get('classname')}::{case.get('name')}"] = (failure.get("message") or "") + (failure.text or "")
    return out


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in (
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_WORKER_COUNT",
        "PYTEST_XDIST_TESTRUNUID",
        "CI",
        "KYLECODE_TELEMETRY_PATH",
    ):
        monkeypatch.delenv(name, raising=False)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    return pytester


def test_scenarios_through_the_plugin(project: pytest.Pytester) -> None:
    _scenario_dir(project.path)
    result = project.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all", "--junitxml=junit.xml")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("failed") == len(SCENARIOS) + 1, outcomes
    assert "error" not in outcomes and "errors" not in outcomes  # no collection error: the session ran
    output = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED and "Traceback" not in output  # not interrupted
    failures = _junit_failures(project.path / "junit.xml")
    problems = []
    for name, expected in [*SCENARIOS.items(), HUGE]:
        mine = [text for test, text in failures.items() if test == f"scenarios.{name}.{name}::invalid"]
        if len(mine) != 1:
            problems.append(f"{name}: expected one failing item, got {len(mine)}")
            continue
        problems += _check(mine[0], [f"{name}{expected[0]}", *expected[1:]], name)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_configs_through_kylecode_run(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_kylecode.cli import main

    configs = tmp_path / "configs"
    shutil.copytree(CORPUS / "configs", configs)
    (tmp_path / "task.txt").write_text("List the workspace.", encoding="utf-8")
    code = main(
        [
            "run",
            str(configs / name),
            "--task",
            str(tmp_path / "task.txt"),
            "--workspace",
            str(tmp_path),
            "--runs",
            str(tmp_path / "runs"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kylecode run: error: "), captured.err
    assert not (tmp_path / "runs").exists() and not (tmp_path / "PWNED").exists()
    assert not _check(lines[0], CONFIGS[name], name), _check(lines[0], CONFIGS[name], name)


@pytest.mark.parametrize("name", sorted(CASSETTES))
def test_cassettes_through_kylecode_inspect(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_kylecode.cli import main

    path = CORPUS / "cassettes" / name
    code = main(["inspect", str(path), "--json"])
    captured = capsys.readouterr()
    assert code == 2 and not captured.out, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"kylecode inspect: error: {path}"), captured.err
    assert not _check(lines[0], CASSETTES[name][0], name), _check(lines[0], CASSETTES[name][0], name)


REPLAYED = """\
name: replayed
task: List the workspace, then finish.
workspace: {{README.md: "# demo\\n"}}
agent: {{max_steps: 4, failover: []}}
script:
  - tool_calls: [{{name: list_dir, arguments: {{path: "."}}}}]
  - tool_calls: [{{name: mark_task_complete, arguments: {{summary: done}}}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true]
  tools: [native]
  fault: [{faults}]
expect: {{outcome: completed}}
snapshot: false
"""


def test_corrupt_cassettes_fail_their_cell_only_in_replay(project: pytest.Pytester) -> None:
    cases = [name for name, (_, replay) in sorted(CASSETTES.items()) if replay]
    n = len(cases) + 2  # one cell per corrupt cassette, one for another protocol's cassette, one left intact
    faults = ", ".join(f"{{kind: latency, ms: {i}}}" for i in range(1, n + 1))
    (project.path / "scenarios").mkdir()
    (project.path / "scenarios" / "replayed.yaml").write_text(REPLAYED.format(faults=faults), encoding="utf-8")
    project.runpytest_subprocess("--kylecode-matrix", "--kylecode-record=all").assert_outcomes(passed=2 * n)

    def cassette(provider: str, i: int) -> Path:
        return project.path / "cassettes" / "replayed" / provider / f"stream-native-latency-ms={i}.yaml"

    expected: dict[str, list[str]] = {}
    for i, name in enumerate(cases, start=1):
        shutil.copyfile(CORPUS / "cassettes" / name, cassette("openai/gpt-4o-mini", i))
        expected[f"ms={i}"] = CASSETTES[name][1]
    other = len(cases) + 1  # the Anthropic cell's traffic where the OpenAI cell's should be
    shutil.copyfile(cassette("anthropic/claude-sonnet-4-5", other), cassette("openai/gpt-4o-mini", other))
    expected[f"ms={other}"] = [
        "replay miss: no recorded interaction matches POST https://api.openai.com",
        "recorded https://api.anthropic.com/v1/messages",
    ]

    import os

    os.environ["CI"] = "true"  # replay as CI does (monkeypatch restores the environment)
    try:
        result = project.runpytest_subprocess("--kylecode-matrix", "--junitxml=junit.xml")
    finally:
        del os.environ["CI"]
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == n - 1 and outcomes.get("passed") == n + 1, outcomes
    failures = _junit_failures(project.path / "junit.xml")
    problems = []
    for key, wanted in expected.items():
        mine = [text for test, text in failures.items() if f"openai/gpt-4o-mini-stream-native-latency-{key}]" in test]
        if len(mine) != 1:
            problems.append(f"{key}: expected one failing cell, got {len(mine)}: {list(failures)[:3]}")
            continue
        i = int(key.split("=")[1])
        # A corrupt file is named by its path; a replay miss by the diff and the cell's re-record command.
        where = (
            f"openai/gpt-4o-mini-stream-native-latency-{key}]"
            if i == other
            else cassette("openai/gpt-4o-mini", i).relative_to(project.path).as_posix()
        )
        problems += _check(mine[0], [where, "re-record this cell:", "--kylecode-record=rewrite", *wanted], key)
    assert not problems, "\n".join(problems) + "\n" + json.dumps(list(failures), indent=1)
