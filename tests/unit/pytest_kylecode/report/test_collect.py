"""``MatrixReport``: rows from pytest's own ``TestReport`` objects, outcomes, tables in the
scenario's order, relative paths and redaction."""

from __future__ import annotations

import random

import pytest

from pytest_kylecode.report import MatrixReport
from pytest_kylecode.scenarios.scenario import Cell

from .reports import ROOT, ran, report


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
    assert failed.message.startswith("cell demo[")  # xdist's banner is no part of the message
    assert "SECRET" not in failed.details["error_message"]  # details are redacted like every artifact
    assert failed.metrics["calls"] == 3 and failed.transcript[0] == {"role": "user", "text": "go"}
    assert failed.transcript[1]["text"] == "<img src=x onerror=alert(1)>"  # escaping is the page's job
    assert failed.transcript[2] == {"role": "tool", "text": "read_file: OPENAI_API_KEY=[REDACTED]"}
    assert "metrics" not in failed.details and "transcript" not in failed.details


def test_paths_under_the_project_root_are_relative(matrix: MatrixReport) -> None:
    failed = next(row for row in matrix.rows.values() if row.outcome == "failed")
    assert failed.details["run_dir"] == ".kylecode/runs/demo_stall"
    assert str(ROOT) not in failed.message
    assert "  scenarios/__snapshots__/demo/x.json differs" in failed.message
    assert failed.message.endswith("run directory: .kylecode/runs/demo_stall")


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


def test_columns_and_rows_follow_the_scenario_whatever_order_the_cells_finish_in(cells: dict[str, Cell]) -> None:
    """Under -n the controller hears of the cells in the order the workers finish them."""
    ids = sorted(cells)
    for seed in range(5):
        random.Random(seed).shuffle(ids)
        matrix = MatrixReport()
        for cell_id in ids:
            ran(matrix, cells[cell_id])
        faults, table = matrix.table(matrix.by_scenario()["demo"])
        assert faults == ["none", "stall"]
        assert [provider for provider, _ in table] == ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"]


def test_an_unexpected_pass_is_no_failure_and_a_strict_one_is(cells: dict[str, Cell]) -> None:
    matrix = MatrixReport()
    lucky = report(cells["openai/gpt-4o-mini-stream-native-stall"], "call", "passed")
    lucky.wasxfail = "stalls on this route"  # pytest's non-strict xfail that passed
    matrix.add(lucky)
    ran(matrix, cells["openai/gpt-4o-mini-stream-native-none"])
    strict = cells["anthropic/claude-sonnet-4-5-stream-native-stall"]
    ran(matrix, strict, "failed", "[XPASS(strict)] stalls on this route")  # how pytest reports a strict one
    _, table = matrix.table(matrix.by_scenario()["demo"])
    assert table == [
        ("openai/gpt-4o-mini", {"none": "1/1", "stall": "1/1 XPASS"}),
        ("anthropic/claude-sonnet-4-5", {"none": "n/a", "stall": "0/1 FAIL"}),
    ]
    xpassed = matrix.unexpected_passes()
    assert [row.cell for row in xpassed] == ["openai/gpt-4o-mini-stream-native-stall"]
    assert "stalls on this route" in xpassed[0].message
    assert [row.cell for row in matrix.failing()] == ["anthropic/claude-sonnet-4-5-stream-native-stall"]


def test_a_group_that_only_skipped_says_skip(cells: dict[str, Cell]) -> None:
    matrix = MatrixReport()
    cell = cells["openai/gpt-4o-mini-stream-native-none"]
    matrix.add(report(cell, "setup", "skipped", ("scenarios/demo.yaml", 0, "Skipped: requires x")))
    assert matrix.table(matrix.by_scenario()["demo"])[1] == [("openai/gpt-4o-mini", {"none": "skip"})]
    assert next(iter(matrix.rows.values())).message == "Skipped: requires x"
