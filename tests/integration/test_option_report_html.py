"""``--kylecode-report``'s report.html in a real headless Chromium: a real session's page, a click
on its failing cell, and what the page then shows. The screenshot stays in the test's tmp dir."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from matrix_helpers import BASIC, Matrix

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
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


@pytest.fixture
def browser_page() -> Iterator[Page]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra has it)")
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def test_a_click_on_the_failing_cell_shows_its_failure_metrics_and_transcript(
    matrix: Matrix, browser_page: Page, tmp_path: Path
) -> None:
    matrix.scenario("basic", TWO_FAULTS)
    matrix.record()
    matrix.scenario("basic", FAILING)
    matrix.replay("--kylecode-report=out").assert_outcomes(passed=8, failed=1)
    page = browser_page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto((matrix.root / "out" / "report.html").as_uri())

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
    assert not problems, problems
    assert all(url.startswith("file://") for url in requests), requests  # nothing from the network
