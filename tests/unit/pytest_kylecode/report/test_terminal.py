"""The terminal summary: the comparison first, then the tables, then the cells to look at."""

from __future__ import annotations

from pytest_kylecode.report import MatrixReport, terminal
from pytest_kylecode.report.baseline import Comparison, Delta


def test_tables_then_the_summary_then_the_failing_cells(matrix: MatrixReport) -> None:
    lines = terminal.render(matrix).splitlines()
    assert lines[:3] == [
        "demo                         none      stall",
        "openai/gpt-4o-mini           2/2       0/1 FAIL",
        "anthropic/claude-sonnet-4-5  0/1 FAIL  1/1",
    ]
    assert "6 cells: 2 passed, 1 failed, 1 error, 1 skipped, 1 xfailed" in lines
    failed = "FAILED scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]"
    assert f"{failed}  (run dir: .kylecode/runs/demo_stall)" in lines


def test_the_comparison_comes_first_and_long_lists_are_cut(matrix: MatrixReport) -> None:
    many = [f"scenarios/demo.yaml::demo[cell-{i:02}]" for i in range(25)]
    comparison = Comparison(
        "baseline/report.json",
        "0123456789abcdef",
        newly_failing=["scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]"],
        new=many,
        deltas=[Delta("scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]", "calls", 2, 3)],
    )
    lines = terminal.render(matrix, comparison).splitlines()
    assert lines[0] == (
        "kylecode: compared with baseline/report.json (commit 0123456789ab): 1 newly failing, 0 newly passing, "
        "25 new, 0 removed, 1 cells with metric changes"
    )
    assert lines[1] == "  NEWLY FAILING scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]"
    assert "  ... 5 more new cells (see report.md)" in lines
    assert "  metrics scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]: calls 2 -> 3 (+1)" in lines
    assert lines.index("demo                         none      stall") > lines.index(
        "  ... 5 more new cells (see report.md)"
    )
