"""``report.html``: one self-contained page (inline style and script, no network) with a heatmap
per scenario, filters, and each cell's failure, metrics and transcript excerpt on a click.

The page's data is the ``report.json`` document reshaped for drawing, embedded as a JSON script
block in which ``<``, ``>`` and ``&`` are escaped, so no text from a cell can close the block; the
page's script sets every text with ``textContent``, so none is ever parsed as HTML.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Final

from agent_runtime.messages import JSONObject
from pytest_kylecode.report.baseline import Comparison
from pytest_kylecode.report.collect import summary_line
from pytest_kylecode.report.excerpt import METRICS
from pytest_kylecode.scenarios.scenario import stream_word

PLACEHOLDER: Final = "/*KYLECODE-DATA*/"


def render(data: JSONObject) -> str:
    template = files("pytest_kylecode.report").joinpath("report.html").read_text(encoding="utf-8")
    return template.replace(PLACEHOLDER, embed(page_data(data)), 1)


def embed(value: object) -> str:
    """JSON that is inert inside a ``<script>`` element whatever its strings contain."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for raw in ("<", ">", "&", "\u2028", "\u2029"):
        text = text.replace(raw, f"\\u{ord(raw):04x}")
    return text


def page_data(data: JSONObject) -> JSONObject:
    cells: list[JSONObject] = [dict(cell) for cell in data["cells"]]
    index = {cell["nodeid"]: i for i, cell in enumerate(cells)}
    baseline: JSONObject | None = None
    if data.get("baseline"):
        comparison = Comparison.from_json(data["baseline"])
        baseline = {**comparison.to_json(), "headline": comparison.headline()}
        baseline["deltas"] = [{"nodeid": d.nodeid, "text": d.text()} for d in comparison.deltas]
        for label, nodeids in (
            ("newly failing", comparison.newly_failing),
            ("newly passing", comparison.newly_passing),
            ("new cell", comparison.new),
        ):
            for nodeid in nodeids:
                cells[index[nodeid]]["change"] = label
        for delta in comparison.deltas:
            cells[index[delta.nodeid]].setdefault("deltas", {})[delta.metric] = delta.text()
    return {
        "summary_line": summary_line(data["summary"]),
        "commit": data.get("commit"),
        "created_at": data.get("created_at"),
        "plugin_version": data.get("plugin_version"),
        "baseline": baseline,
        "metric_names": list(METRICS),
        "layout": _layout(data, cells),
        "cells": cells,
    }


def _layout(data: JSONObject, cells: list[JSONObject]) -> list[JSONObject]:
    """Per scenario: providers and faults in the matrix's order, and per (provider, fault) the
    cells that ran (``index`` into ``cells``) and the not applicable ones (``index`` -1)."""
    layout = []
    for name, info in data["scenarios"].items():
        entries = [(i, cell) for i, cell in enumerate(cells) if cell["scenario"] == name]
        entries += [(-1, na) for na in info.get("not_applicable_cells", [])]
        providers = sorted({(c["provider_rank"], c["provider"]) for _, c in entries})
        faults = sorted({(c["fault_rank"], c["fault"]) for _, c in entries})
        grid: dict[str, dict[str, list[JSONObject]]] = {p: {} for _, p in providers}
        for i, cell in sorted(entries, key=lambda e: (not e[1]["streaming"], e[1]["tools"], e[1]["cell"])):
            grid[cell["provider"]].setdefault(cell["fault"], []).append(
                {"index": i, "cell": cell["cell"], "variant": f"{stream_word(cell['streaming'])}-{cell['tools']}"}
            )
        layout.append(
            {"name": name, "providers": [p for _, p in providers], "faults": [f for _, f in faults], "grid": grid}
        )
    return layout
