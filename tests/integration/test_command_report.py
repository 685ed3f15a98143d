"""``kylecode report merge``: the shards of one matrix run as one report and one PR comment."""

from __future__ import annotations

import json

import pytest
from matrix_helpers import BASIC, FAILS_NOW, NOW_FAILING, Matrix

from pytest_kylecode.cli import main


def test_two_shards_merge_into_the_report_of_the_whole_run(
    matrix: Matrix, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record("--kylecode-report=main")
    matrix.scenario("basic", FAILS_NOW)
    matrix.replay("--kylecode-shard=1/2", "--kylecode-report=shard1")
    matrix.replay("--kylecode-shard=2/2", "--kylecode-report=shard2")
    shards = [json.loads((matrix.root / f"shard{i}/report.json").read_text())["summary"]["cells"] for i in (1, 2)]
    assert sum(shards) == 6 and 0 not in shards
    monkeypatch.chdir(matrix.root)
    monkeypatch.delenv("GITHUB_RUN_ID", raising=False)
    capsys.readouterr()

    assert main(["report", "merge", "-o", "all", "shard1", "shard2/report.json", "--baseline", "main/report.json"]) == 0
    assert capsys.readouterr().out.strip() == "all: 6 cells: 5 passed, 1 failed"
    data = json.loads((matrix.root / "all/report.json").read_text())
    assert data["summary"] == {"cells": 6, "passed": 5, "failed": 1, "not_applicable": 0}
    assert data["scenarios"]["basic"]["providers"]["anthropic/claude-sonnet-4-5"] == {"none": "1/2 FAIL"}
    assert data["baseline"]["newly_failing"] == [NOW_FAILING] and data["baseline"]["removed"] == []
    summary = (matrix.root / "all/summary.md").read_text()
    assert summary.index("**Newly failing** (1)") < summary.index("### Failing cells (1)")
    assert (matrix.root / "all/report.html").is_file() and (matrix.root / "all/report.md").is_file()

    assert main(["report", "merge", "-o", "twice", "shard1", "shard1"]) == 2
    assert "do the shards overlap?" in capsys.readouterr().err
    (matrix.root / "old.json").write_text('{"schema": 1, "cells": []}')
    assert main(["report", "merge", "-o", "old", "old.json"]) == 2
    assert "old.json: expected a report.json of schema 2" in capsys.readouterr().err
