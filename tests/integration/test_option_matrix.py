"""``--kylecode-matrix``: a scenario path given without it is answered with how to run it."""

from __future__ import annotations

import pytest
from matrix_helpers import BASIC, Matrix


@pytest.fixture
def project(matrix: Matrix) -> Matrix:
    matrix.scenario("basic", BASIC)
    (matrix.root / "test_plain.py").write_text("def test_plain():\n    pass\n", encoding="utf-8")
    (matrix.root / "workflow.yml").write_text("name: not a scenario\n", encoding="utf-8")
    return matrix


@pytest.mark.parametrize("path", ["scenarios/basic.yaml", "scenarios"])
def test_a_scenario_path_without_the_flag_says_to_add_it(project: Matrix, path: str) -> None:
    result = project.pytester.runpytest(path)
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        ["*scenarios/basic.yaml is a scenario file, and scenarios are collected only with --kylecode-matrix*"]
    )
    result.stdout.fnmatch_lines(["*run `pytest --kylecode-matrix scenarios/basic.yaml`*"])


def test_without_a_path_or_with_other_paths_nothing_is_hinted(project: Matrix) -> None:
    for args in ((), ("test_plain.py",), (".",)):
        result = project.pytester.runpytest(*args)
        assert result.ret == 0, args
        result.assert_outcomes(passed=1)
        assert "--kylecode-matrix" not in result.stdout.str()


def test_with_the_flag_the_scenario_runs(project: Matrix) -> None:
    project.record("scenarios/basic.yaml").assert_outcomes(passed=6)
