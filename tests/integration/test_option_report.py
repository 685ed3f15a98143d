"""The matrix report: terminal table, --kylecode-report report.json/report.md, correct under -n 2."""

from __future__ import annotations

import json

from matrix_helpers import Matrix, record_faults


def test_terminal_table_and_report_files_agree_under_xdist(matrix: Matrix) -> None:
    record_faults(matrix, "-n", "2")
    result = matrix.replay("-n", "2", "--kylecode-report=out")
    result.assert_outcomes(passed=29, failed=1)
    out = result.stdout.str()
    assert "basic                        none  http_503  stall" in out
    assert "openai/gpt-4o-mini           4/4   4/4       2/2" in out
    assert "openai-responses/gpt-4.1     4/4   4/4       1/2 FAIL" in out
    assert "30 cells: 29 passed, 1 failed" in out
    data = json.loads((matrix.root / "out/report.json").read_text())
    assert data["summary"] == {"cells": 30, "passed": 29, "failed": 1, "not_applicable": 6}
    info = data["scenarios"]["basic"]
    assert info["faults"] == ["none", "http_503", "stall"]
    assert info["providers"]["openai-responses/gpt-4.1"]["stall"] == "1/2 FAIL"
    assert sorted(info["not_applicable"])[0] == "anthropic/claude-sonnet-4-5-nostream-native-stall"
    failing = [c for c in data["cells"] if c["outcome"] == "failed"]
    assert [c["cell"] for c in failing] == ["openai-responses/gpt-4.1-stream-text-stall"]
    assert "steps: expected 99, got 3" in failing[0]["message"]
    assert failing[0]["details"]["run_dir"]
    markdown = (matrix.root / "out/report.md").read_text()
    assert "| `openai-responses/gpt-4.1` | 4/4 | 4/4 | 1/2 FAIL |" in markdown
    assert "### `scenarios/basic.yaml::basic[openai-responses/gpt-4.1-stream-text-stall]`" in markdown
    assert "6 combinations not applicable" in markdown


def test_report_is_identical_with_and_without_xdist(matrix: Matrix) -> None:
    record_faults(matrix)
    matrix.replay("--kylecode-report=one")
    matrix.replay("-n", "2", "--kylecode-report=two")
    one = json.loads((matrix.root / "one/report.json").read_text())
    two = json.loads((matrix.root / "two/report.json").read_text())
    for data in (one, two):
        data.pop("created_at")
        for cell in data["cells"]:
            cell.pop("duration_s")
            cell["details"].pop("run_dir", None)
            cell["message"] = cell["message"].split("run directory:")[0]
    assert one == two
