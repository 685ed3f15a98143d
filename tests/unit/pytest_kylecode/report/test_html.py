"""``report.html``'s data: inert inside its script element, laid out in the scenario's order."""

from __future__ import annotations

import json
import re
from pathlib import Path

from pytest_kylecode.report import MatrixReport, document, html


def test_nothing_a_cell_says_can_leave_the_data_block(matrix: MatrixReport) -> None:
    hostile = "</script><script>alert(1)</script>&amp;\u2028"
    next(iter(matrix.rows.values())).message = hostile
    page = html.render(document.build(matrix))
    assert "alert(1)</script>" not in page
    block = re.search(r'<script id="kylecode-data" type="application/json">(.*?)</script>', page, re.S)
    assert block is not None
    data = json.loads(block.group(1))
    assert hostile in [cell["message"] for cell in data["cells"]]  # the text itself arrives whole


def test_the_page_loads_nothing_from_anywhere(matrix: MatrixReport) -> None:
    page = html.render(document.build(matrix))
    assert "default-src 'none'" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_the_layout_places_every_cell_and_every_not_applicable_one(matrix: MatrixReport, scenarios: Path) -> None:
    census = document.census(scenarios, scenarios.parent, {"demo"})
    data = html.page_data(document.build(matrix, census.not_applicable))
    (demo,) = data["layout"]
    assert demo["providers"] == ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"]
    assert demo["faults"] == ["none", "stall"]
    stall = demo["grid"]["openai/gpt-4o-mini"]["stall"]
    assert [(e["variant"], e["index"] >= 0) for e in stall] == [("stream-native", True), ("nostream-native", False)]
    placed = sorted(e["index"] for row in demo["grid"].values() for group in row.values() for e in group)
    assert placed == [-1, -1, 0, 1, 2, 3, 4, 5]
