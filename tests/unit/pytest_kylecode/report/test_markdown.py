"""``report.md`` and ``summary.md``: failing cells and changes first, relative paths, bounded size."""

from __future__ import annotations

from pytest_kylecode.report import MatrixReport, document
from pytest_kylecode.report.baseline import Comparison
from pytest_kylecode.report.markdown import MARKER, SUMMARY_LIMIT, report_markdown, summary_markdown
from pytest_kylecode.scenarios.scenario import Cell

from .reports import ran

FAILED = "scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]"


def test_report_md_puts_the_comparison_and_failing_cells_before_the_tables(matrix: MatrixReport) -> None:
    comparison = Comparison("main/report.json", None, newly_failing=[FAILED])
    text = report_markdown(document.build(matrix, comparison=comparison))
    assert text.index("## Compared with the baseline") < text.index("## Failing cells") < text.index("## demo")
    assert f"**Newly failing** (1):\n\n- `{FAILED}`" in text
    assert f"### `{FAILED}`" in text
    assert "run directory: `.kylecode/runs/demo_stall`" in text
    assert "/home/dev" not in text  # no absolute path of the machine that ran it
    assert "| `openai/gpt-4o-mini` | 2/2 | 0/1 FAIL |" in text


def test_summary_md_is_one_marked_comment_with_a_link_to_the_run(matrix: MatrixReport) -> None:
    env = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "42"}
    text = summary_markdown(document.build(matrix), report_dir="report", env=env)
    assert text.startswith(MARKER + "\n## kylecode matrix: 6 cells: 2 passed, 1 failed, 1 error")
    assert text.index("### Failing cells (2)") < text.index("| scenario | cells | passed | failing |")
    assert f"<details><summary><code>{FAILED}</code></summary>" in text
    assert "| demo | 6 | 3 | 2 |" in text
    assert text.rstrip().endswith("is in the artefacts of [this run](https://github.example/o/r/actions/runs/42).")
    local = summary_markdown(document.build(matrix), report_dir="report", env={})
    assert local.rstrip().endswith("`report.json` in `report`.")
    assert "{" not in local.splitlines()[-1]  # no placeholder left for a workflow to fill


def test_summary_md_stays_under_the_comment_limit(cells: dict[str, Cell]) -> None:
    matrix = MatrixReport()
    for i in range(200):
        row_cell = cells["openai/gpt-4o-mini-stream-native-stall"]
        ran(matrix, row_cell, "failed", f"failure {i}\n" + "x" * 3000)
        matrix.rows[f"n{i:03}"] = matrix.rows.pop(next(k for k in matrix.rows if not k.startswith("n")))
        matrix.rows[f"n{i:03}"].nodeid = f"n{i:03}"
    text = summary_markdown(document.build(matrix), report_dir="report", env={})
    assert len(text) <= SUMMARY_LIMIT
    assert "more failing cells: see report.md" in text
