"""``report.json``'s document: per-cell metrics, provenance, what the catalog rules out."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pytest_kylecode import __version__
from pytest_kylecode.report import MatrixReport, document


def test_the_document_counts_what_the_catalog_rules_out(matrix: MatrixReport, scenarios: Path) -> None:
    census = document.census(scenarios, scenarios.parent, {"demo"})
    data = document.build(matrix, census.not_applicable)
    assert data["schema"] == 2
    assert data["summary"]["not_applicable"] == 2  # stall without streaming, on both providers
    info = data["scenarios"]["demo"]
    assert sorted(info["not_applicable"]) == [
        "anthropic/claude-sonnet-4-5-nostream-native-stall",
        "openai/gpt-4o-mini-nostream-native-stall",
    ]
    first = info["not_applicable_cells"][0]
    assert (first["provider"], first["fault"], first["provider_rank"], first["fault_rank"]) == (
        "openai/gpt-4o-mini",
        "stall",
        0,
        1,
    )
    assert [c["nodeid"] for c in data["cells"]] == sorted(c["nodeid"] for c in data["cells"])
    failed = next(c for c in data["cells"] if c["outcome"] == "failed")
    assert failed["metrics"] == {
        "calls": 3,
        "errors": 0,
        "retries": 1,
        "fallbacks": 0,
        "latency_ms": 120.0,
        "input_tokens": 300,
        "output_tokens": 30,
    }


def test_the_census_names_every_cell_the_files_define(scenarios: Path) -> None:
    census = document.census(scenarios, scenarios.parent)
    assert census.nodeids is not None and len(census.nodeids) == 6
    assert "scenarios/demo.yaml::demo[openai/gpt-4o-mini-stream-native-stall]" in census.nodeids


def test_without_the_scenario_files_nothing_is_called_not_applicable(matrix: MatrixReport, tmp_path: Path) -> None:
    census = document.census(tmp_path / "gone", tmp_path)
    assert census.not_applicable == {} and census.nodeids is None
    assert document.build(matrix, census.not_applicable)["summary"]["not_applicable"] == 0


def test_provenance_names_the_commit_the_time_and_the_version(tmp_path: Path) -> None:
    outside = document.provenance(tmp_path)
    assert outside["commit"] is None and outside["plugin_version"] == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", outside["created_at"])
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(tmp_path)], check=True)
    subprocess.run([*git, "-C", str(tmp_path), "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert document.provenance(tmp_path)["commit"] == head
