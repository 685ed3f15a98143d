"""``--kylecode-report DIR``: the four files, each replaced whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_kylecode.report import MatrixReport
from pytest_kylecode.report.files import NAMES, write_report


def test_the_four_files_are_written_and_replace_older_ones(
    matrix: MatrixReport, scenarios: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)  # outside a workflow run: the hint names the directory
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("an older report", encoding="utf-8")
    data = write_report(matrix, out, scenarios_dir=scenarios, rootdir=tmp_path)
    assert sorted(p.name for p in out.iterdir()) == sorted(NAMES)  # no temporary file left behind
    assert json.loads((out / "report.json").read_text(encoding="utf-8")) == data
    assert (out / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "in `out`." in (out / "summary.md").read_text(encoding="utf-8")  # relative to the project root
    assert "2 combinations not applicable" in (out / "report.md").read_text(encoding="utf-8")
