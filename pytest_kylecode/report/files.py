"""``--kylecode-report DIR``: the four report files, each written to a temporary file and renamed,
so a reader (a CI step, a browser) never sees half a file.

- ``report.json``: the document (``document.build``), the baseline of a later run;
- ``report.md``: for a CI job summary;
- ``report.html``: the heatmap page;
- ``summary.md``: the body of the sticky PR comment.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final

from agent_runtime.messages import JSONObject
from pytest_kylecode.report import document, html, markdown
from pytest_kylecode.report.baseline import Comparison
from pytest_kylecode.report.collect import MatrixReport

NAMES: Final = ("report.json", "report.md", "report.html", "summary.md")


def write_report(
    report: MatrixReport,
    directory: Path,
    *,
    scenarios_dir: Path,
    rootdir: Path,
    comparison: Comparison | None = None,
) -> JSONObject:
    """Write the report files into ``directory``; returns the document."""
    na = document.census(scenarios_dir, rootdir, set(report.by_scenario())).not_applicable
    data = document.build(report, na, comparison=comparison, run=document.provenance(rootdir))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        shown = str(directory.resolve().relative_to(rootdir.resolve()))
    except ValueError:
        shown = str(directory)
    texts = (
        json.dumps(data, indent=2, sort_keys=True) + "\n",
        markdown.report_markdown(data),
        html.render(data),
        markdown.summary_markdown(data, report_dir=shown),
    )
    for name, text in zip(NAMES, texts, strict=True):
        write_atomic(directory / name, text)
    return data


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
