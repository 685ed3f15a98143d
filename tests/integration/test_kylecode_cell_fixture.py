"""A user's own agent in a marked test: @pytest.mark.kylecode_scenario and the ``kylecode_cell`` fixture."""

from __future__ import annotations

import pytest
from own_agent import write_project

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
    write_project(project, "myagent:not_used")
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
    write_project(project)
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
            "In test_x: @pytest.mark.kylecode_scenario takes one argument, the scenario file's path; "
            "got args=() kwargs={}",
        ),
    ],
)
def test_a_misused_marker_is_a_collection_error_like_parametrize(
    project: pytest.Pytester, test: str, message: str
) -> None:
    write_project(project)
    project.makepyfile(test_mistake="import pytest\n" + test)
    result = project.runpytest("test_mistake.py")
    result.assert_outcomes(errors=1)  # a collection error of test_mistake.py, nothing ran
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()
