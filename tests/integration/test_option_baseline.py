"""``--kylecode-baseline``: a run compared with main's report.json, what changed listed first."""

from __future__ import annotations

import json

from matrix_helpers import BASIC, FAILS_NOW, NOW_FAILING, Matrix


def test_a_cell_that_passed_on_the_baseline_and_fails_now_is_shown_first(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record("--kylecode-report=main").assert_outcomes(passed=6)
    baseline = json.loads((matrix.root / "main/report.json").read_text(encoding="utf-8"))
    assert {c["outcome"] for c in baseline["cells"]} == {"passed"} and baseline["plugin_version"]
    matrix.scenario("basic", FAILS_NOW)
    result = matrix.replay("--kylecode-baseline=main/report.json", "--kylecode-report=out")
    result.assert_outcomes(passed=5, failed=1)

    out = result.stdout.lines
    start = next(i for i, line in enumerate(out) if "kylecode matrix" in line and line.startswith("="))
    assert out[start + 1] == (
        "kylecode: compared with main/report.json: 1 newly failing, 0 newly passing, 0 new, 0 removed, "
        "0 cells with metric changes"
    )
    assert out[start + 2] == f"  NEWLY FAILING {NOW_FAILING}"
    assert out.index("6 cells: 5 passed, 1 failed") > start + 2

    markdown = (matrix.root / "out/report.md").read_text(encoding="utf-8")
    assert markdown.index(f"- `{NOW_FAILING}`") < markdown.index("## Failing cells") < markdown.index("## basic")
    assert str(matrix.root) not in markdown
    summary = (matrix.root / "out/summary.md").read_text(encoding="utf-8")
    assert summary.index("**Newly failing** (1)") < summary.index("### Failing cells (1)")
    assert summary.index(NOW_FAILING) < summary.index("| scenario | cells | passed | failing |")
    data = json.loads((matrix.root / "out/report.json").read_text(encoding="utf-8"))
    assert data["baseline"]["newly_failing"] == [NOW_FAILING]
    [cell] = [c for c in data["cells"] if c["nodeid"] == NOW_FAILING]
    assert cell["metrics"]["calls"] == 3 and cell["metrics"]["input_tokens"] > 0
    assert "newly failing" in (matrix.root / "out/report.html").read_text(encoding="utf-8")


def test_a_baseline_that_is_no_report_stops_the_run_before_any_cell(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    (matrix.root / "main.json").write_text('{"cells": [\n  {"nodeid": 3}\n]}\n', encoding="utf-8")
    result = matrix.replay("--kylecode-baseline=main.json")
    assert result.ret == 4  # pytest's usage error
    result.stderr.fnmatch_lines(["*--kylecode-baseline: *main.json: cells[[]0[]].nodeid: expected a string*"])
