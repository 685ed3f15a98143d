"""The matrix report: terminal table, --kylecode-report report.json/report.md, correct under -n 2."""

from __future__ import annotations

import json

from matrix_helpers import BASIC, Matrix

FAULTS = (
    BASIC.replace("fault: [none]", "fault: [none, http_503, stall]").replace("tools: [native]", "tools: [native, text]")
    + """
overrides:
  - when: {fault: http_503, provider: "openai/*"}
    expect: {retries: 1, fallbacks: 0, final_route: openai/gpt-4o-mini}
  - when: {provider: "openai-responses/*", fault: stall, tools: text}
    expect: {steps: 99}
"""
)
# What the cassettes are recorded from: a recording cell that fails writes nothing, so the
# expectation that fails one cell on replay is added after recording.
RECORDED = FAULTS.replace("expect: {steps: 99}", "expect: {steps: 3}")


def _record(matrix: Matrix, *args: str) -> None:
    matrix.scenario("basic", RECORDED)
    matrix.record(*args)
    matrix.scenario("basic", FAULTS)


def test_terminal_table_and_report_files_agree_under_xdist(matrix: Matrix) -> None:
    _record(matrix, "-n", "2")
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
    _record(matrix)
    matrix.replay("--kylecode-report=one")
    matrix.replay("-n", "2", "--kylecode-report=two")
    one = json.loads((matrix.root / "one/report.json").read_text())
    two = json.loads((matrix.root / "two/report.json").read_text())
    for data in (one, two):
        for cell in data["cells"]:
            cell.pop("duration_s")
            cell["details"].pop("run_dir", None)
            cell["message"] = cell["message"].split("run directory:")[0]
    assert one == two


def test_failing_cells_keep_their_run_directory(matrix: Matrix) -> None:
    _record(matrix)
    result = matrix.replay("-q", "--kylecode-runs=runs")
    runs = sorted(p.name for p in (matrix.root / "runs").iterdir())
    assert len(runs) == 1 and "basic_openai-responses_gpt-4.1-stream-text-stall" in runs[0]
    run_dir = matrix.root / "runs" / runs[0]
    assert f"run directory: {run_dir}" in result.stdout.str()
    for name in ("meta/run.json", "meta/provider_metrics.json", "conversation/conversation.md"):
        assert (run_dir / name).is_file()
    kept = matrix.replay("-q", "--kylecode-runs=all", "--kylecode-keep-runs")
    kept.assert_outcomes(passed=29, failed=1)
    assert len(list((matrix.root / "all").iterdir())) == 30


def test_shards_partition_the_cells(matrix: Matrix) -> None:
    matrix.scenario("basic", FAULTS)
    seen: list[str] = []
    for shard in ("1/3", "2/3", "3/3"):
        result = matrix.run("--collect-only", "-q", f"--kylecode-shard={shard}")
        seen += [line for line in result.outlines if "::" in line]
    everything = [line for line in matrix.run("--collect-only", "-q").outlines if "::" in line]
    assert sorted(seen) == sorted(everything) and len(set(seen)) == len(seen) == 30


def test_bad_shard_is_a_usage_error(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    result = matrix.run("--kylecode-shard=4/3")
    assert result.ret == 4
    assert "--kylecode-shard 4/3: I must be between 1 and N" in result.stderr.str()


def test_cell_timeout_bounds_wall_time(matrix: Matrix) -> None:
    slow = (
        BASIC.replace(
            'tool_calls: [{name: list_dir, arguments: {path: "."}}]',
            'tool_calls: [{name: run_shell, arguments: {command: "sleep 5"}}]',
        )
        .replace(
            "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]",
            "provider: [openai/gpt-4o-mini]",
        )
        .replace("streaming: [true, false]", "streaming: [true]")
    )
    matrix.scenario("basic", slow)
    result = matrix.run("--kylecode-record=all", "--kylecode-cell-timeout=0.5", "-q")
    result.assert_outcomes(failed=1)
    assert "exceeded --kylecode-cell-timeout=0.5s of wall time" in result.stdout.str()
