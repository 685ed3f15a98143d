"""``--kylecode-report``'s report.html in a real headless Chromium: a real session's page, a click
on its failing cell, and what the page then shows. The screenshot stays in the test's tmp dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from browser import headless_page, require_browser
from matrix_helpers import BASIC, ONE, Matrix

if TYPE_CHECKING:
    from playwright.sync_api import Page

# Two faults over BASIC: nine cells (stall needs streaming: three combinations not applicable).
TWO_FAULTS = BASIC.replace("fault: [none]", "fault: [none, stall]")
FAILING = (
    TWO_FAULTS
    + """
overrides:
  - when: {provider: "openai-responses/*", fault: stall}
    expect: {steps: 99}
"""
)
FAILED_CELL = "openai-responses/gpt-4.1-stream-native-stall"


def test_a_click_on_the_failing_cell_shows_its_failure_metrics_and_transcript(matrix: Matrix, tmp_path: Path) -> None:
    require_browser()
    matrix.scenario("basic", TWO_FAULTS)
    matrix.record()
    matrix.scenario("basic", FAILING)
    matrix.replay("--kylecode-report=out").assert_outcomes(passed=8, failed=1)
    with headless_page((matrix.root / "out" / "report.html").as_uri()) as page:
        check_the_failing_cell(page, matrix, tmp_path)


def check_the_failing_cell(page: Page, matrix: Matrix, tmp_path: Path) -> None:
    """The heatmap, the click, the detail panel, a filter; the screenshot kept in ``tmp_path``."""
    chips = page.locator("section[data-scenario=basic] button.chip")
    assert chips.count() == 12  # nine cells, three combinations not applicable
    assert page.locator("button.chip.na").count() == 3 and page.locator("button.chip.failed").count() == 1
    header = page.locator("section[data-scenario=basic] thead th").all_inner_texts()
    assert [h.strip() for h in header] == ["provider", "none", "stall"]

    page.locator(f'button.chip[data-cell="{FAILED_CELL}"]').click()
    detail = page.locator("#detail")
    assert detail.locator("h2.nodeid").inner_text() == f"scenarios/basic.yaml::basic[{FAILED_CELL}]"
    assert detail.locator(".badge").inner_text() == "failed"
    failure = detail.locator("pre.failure").inner_text()
    assert f"cell basic[{FAILED_CELL}] did not behave as expected" in failure
    assert "steps: expected 99, got 3" in failure and "(expected by scenarios/basic.yaml:" in failure
    assert "run directory: .kylecode/runs/" in failure and str(matrix.root) not in failure
    metrics = dict(row.split("\t")[:2] for row in detail.locator("table.metrics tr").all_inner_texts())
    data = json.loads((matrix.root / "out" / "report.json").read_text(encoding="utf-8"))
    [cell] = [c for c in data["cells"] if c["cell"] == FAILED_CELL]
    assert {name: float(text) for name, text in metrics.items()} == cell["metrics"]
    assert int(metrics["calls"]) >= 3  # the three turns, and what the stall cost
    transcript = detail.locator("ol.transcript").inner_text()
    assert "List the workspace, write notes.txt, then finish." in transcript
    assert "-> mark_task_complete(" in transcript

    page.select_option("#filter-status", "failed")
    assert page.locator("button.chip:not(.dim)").count() == 1
    shot = tmp_path / "report-html-failing-cell.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot of report.html: {shot}")
    assert shot.stat().st_size > 10_000


# What a model wrote, shown by the page: it must arrive as text, never as markup or script.
HOSTILE = '</script><img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
QUOTED = '"' + HOSTILE.replace('"', '\\"') + '"'
HOSTILE_RUN = ONE.replace('"one file\\n"', QUOTED).replace("text: Writing notes.", f"text: {QUOTED}")
EXPECTS_OTHER = HOSTILE_RUN.replace(f"files: {{notes.txt: {QUOTED}}}", 'files: {notes.txt: "one file\\n"}')


def test_what_a_model_wrote_is_shown_as_text_and_never_runs(matrix: Matrix) -> None:
    require_browser()
    assert EXPECTS_OTHER != HOSTILE_RUN
    matrix.scenario("basic", HOSTILE_RUN)
    matrix.record().assert_outcomes(passed=1)
    matrix.scenario("basic", EXPECTS_OTHER)  # the expectation now quotes the model's file back
    matrix.replay("--kylecode-report=out").assert_outcomes(failed=1)
    with headless_page((matrix.root / "out" / "report.html").as_uri()) as page:
        page.locator("button.chip.failed").click()
        detail = page.locator("#detail")
        assert HOSTILE in detail.locator("pre.failure").inner_text()
        assert HOSTILE in detail.locator("ol.transcript").inner_text()
        assert page.locator("img").count() == 0
        assert page.evaluate("window.pwned") is None
