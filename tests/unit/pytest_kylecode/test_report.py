"""``MatrixReport``: rows from pytest's own ``TestReport`` objects (as a worker sends them to the
xdist controller), the terminal table, ``report.json`` and ``report.md``."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_kylecode.report import MatrixReport
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.scenarios.scenario import Cell

SCENARIO = """
name: demo
task: go
script: [{text: hi}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true, false]
  fault: [none, stall]
"""


@pytest.fixture
def scenarios(tmp_path: Path) -> Path:
    root = tmp_path / "scenarios"
    root.mkdir()
    (root / "demo.yaml").write_text(textwrap.dedent(SCENARIO).lstrip(), encoding="utf-8")
    return root


@pytest.fixture
def cells(scenarios: Path) -> dict[str, Cell]:
    """The six cells of the demo matrix by id (stall without streaming is not applicable)."""
    return {cell.id: cell for cell in expand(load_scenario(scenarios / "demo.yaml")).cells}


def report(
    cell: Cell, when: str, outcome: str, longrepr: Any = None, details: dict[str, Any] | None = None
) -> pytest.TestReport:
    props: list[tuple[str, object]] = [("kylecode_cell", cell.report_key())]
    if details:
        props.append(("kylecode_run", details))
    nodeid = f"scenarios/demo.yaml::demo[{cell.id}]"
    return pytest.TestReport(
        nodeid, ("scenarios/demo.yaml", 0, nodeid), {}, outcome, longrepr, when, duration=0.25, user_properties=props
    )


def ran(matrix: MatrixReport, cell: Cell, call: str = "passed", longrepr: Any = None, **details: Any) -> None:
    """One cell's setup, call and teardown reports."""
    matrix.add(report(cell, "setup", "passed"))
    matrix.add(report(cell, "call", call, longrepr, details))
    matrix.add(report(cell, "teardown", "passed"))


@pytest.fixture
def matrix(cells: dict[str, Cell]) -> MatrixReport:
    """Every outcome a cell can have, one cell each (stall cells: one failed, one xfailed)."""
    matrix = MatrixReport()
    ran(matrix, cells["openai/gpt-4o-mini-stream-native-none"])
    ran(matrix, cells["openai/gpt-4o-mini-nostream-native-none"])
    ran(
        matrix,
        cells["openai/gpt-4o-mini-stream-native-stall"],
        "failed",
        "[gw1] linux -- Python 3.11.7 /venv/bin/python\nsteps: expected 3, got 2",
        run_dir="/runs/demo_stall",
        error_message="key sk-ant-api03-SECRETSECRETSECRET0000 refused",
    )
    skipped = cells["anthropic/claude-sonnet-4-5-stream-native-none"]
    matrix.add(report(skipped, "setup", "skipped", ("scenarios/demo.yaml", 0, "Skipped: not today")))
    matrix.add(report(skipped, "teardown", "passed"))
    xfailed = report(cells["anthropic/claude-sonnet-4-5-stream-native-stall"], "call", "skipped", "known")
    xfailed.wasxfail = "known to differ"  # what pytest's skipping plugin sets on an xfailed call
    matrix.add(report(cells["anthropic/claude-sonnet-4-5-stream-native-stall"], "setup", "passed"))
    matrix.add(xfailed)
    broken = cells["anthropic/claude-sonnet-4-5-nostream-native-none"]
    matrix.add(report(broken, "setup", "passed"))
    matrix.add(report(broken, "call", "passed"))
    matrix.add(report(broken, "teardown", "failed", "teardown blew up"))
    return matrix


def test_each_cell_gets_the_outcome_its_reports_establish(matrix: MatrixReport) -> None:
    outcomes = {row.cell: row.outcome for row in matrix.rows.values()}
    assert outcomes == {
        "openai/gpt-4o-mini-stream-native-none": "passed",
        "openai/gpt-4o-mini-nostream-native-none": "passed",
        "openai/gpt-4o-mini-stream-native-stall": "failed",
        "anthropic/claude-sonnet-4-5-stream-native-none": "skipped",
        "anthropic/claude-sonnet-4-5-stream-native-stall": "xfailed",
        "anthropic/claude-sonnet-4-5-nostream-native-none": "error",  # passed, then its teardown failed
    }
    assert matrix.counts() == {"cells": 6, "passed": 2, "failed": 1, "skipped": 1, "xfailed": 1, "error": 1}
    failed = next(row for row in matrix.rows.values() if row.outcome == "failed")
    assert failed.duration_s == 0.75  # setup, call and teardown
    assert failed.message == "steps: expected 3, got 2"  # xdist's banner is no part of the message
    assert failed.details["run_dir"] == "/runs/demo_stall"
    assert "SECRET" not in failed.details["error_message"]  # details are redacted like every artifact


def test_reports_of_other_tests_are_not_rows(matrix: MatrixReport) -> None:
    plain = pytest.TestReport("test_x.py::test_x", ("test_x.py", 0, "test_x"), {}, "passed", None, "call")
    matrix.add(plain)
    assert "test_x.py::test_x" not in matrix.rows and matrix.counts()["cells"] == 6


def test_the_table_has_a_column_per_fault_and_a_row_per_provider(matrix: MatrixReport) -> None:
    faults, table = matrix.table(matrix.by_scenario()["demo"])
    assert faults == ["none", "stall"]
    assert table == [
        ("openai/gpt-4o-mini", {"none": "2/2", "stall": "0/1 FAIL"}),
        ("anthropic/claude-sonnet-4-5", {"none": "0/1 FAIL", "stall": "1/1"}),  # the skipped cell did not run
    ]
    lines = matrix.render_terminal().splitlines()
    assert lines[:3] == [
        "demo                         none      stall",
        "openai/gpt-4o-mini           2/2       0/1 FAIL",
        "anthropic/claude-sonnet-4-5  0/1 FAIL  1/1",
    ]
    assert "6 cells: 2 passed, 1 failed, 1 error, 1 skipped, 1 xfailed" in lines
    assert "FAILED scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]  (run dir: /runs/demo_stall)" in (
        lines
    )


def test_a_group_that_only_skipped_says_skip(cells: dict[str, Cell]) -> None:
    matrix = MatrixReport()
    cell = cells["openai/gpt-4o-mini-stream-native-none"]
    matrix.add(report(cell, "setup", "skipped", ("scenarios/demo.yaml", 0, "Skipped: requires x")))
    assert matrix.table(matrix.by_scenario()["demo"])[1] == [("openai/gpt-4o-mini", {"none": "skip"})]
    assert next(iter(matrix.rows.values())).message == "Skipped: requires x"


def test_report_files_count_what_the_catalog_rules_out(matrix: MatrixReport, scenarios: Path, tmp_path: Path) -> None:
    matrix.write(tmp_path / "out", scenarios_dir=scenarios)
    data = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert data["schema"] == 1
    assert data["summary"]["not_applicable"] == 2  # stall without streaming, on both providers
    assert sorted(data["scenarios"]["demo"]["not_applicable"]) == [
        "anthropic/claude-sonnet-4-5-nostream-native-stall",
        "openai/gpt-4o-mini-nostream-native-stall",
    ]
    assert [c["nodeid"] for c in data["cells"]] == sorted(c["nodeid"] for c in data["cells"])
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "6 cells: 2 passed, 1 failed, 1 error, 1 skipped, 1 xfailed; 2 not applicable" in markdown
    assert "| `openai/gpt-4o-mini` | 2/2 | 0/1 FAIL |" in markdown
    assert "2 combinations not applicable (fault needs streaming or native tools)." in markdown
    assert "### `scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]`" in markdown
    assert "run directory: `/runs/demo_stall`" in markdown


def test_without_the_scenario_files_nothing_is_called_not_applicable(matrix: MatrixReport, tmp_path: Path) -> None:
    assert matrix.to_json()["summary"]["not_applicable"] == 0
    matrix.write(tmp_path / "out", scenarios_dir=tmp_path / "gone")
    assert json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))["summary"]["not_applicable"] == 0
