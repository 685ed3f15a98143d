"""The benchmark command runs end to end on a tiny workload and prints the documented JSON.

Not a timed test: nothing here looks at the numbers, only at their presence.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_runs_and_reports_every_key(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--cells",
            "20",
            "--collect-cells",
            "20",
            "--rss-cells",
            "20",
            "--repeat",
            "1",
            "--workers",
            "2",
            "--keep",
            str(tmp_path / "work"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == report
    assert {
        "machine",
        "workload",
        "cells",
        "floor",
        "matrix",
        "matrix_xdist",
        "matrix_cold",
        "respx",
        "byo_sdk",
        "ratios",
        "peers_skipped",
        "ratio_per_cell_wall",
        "ratio_per_cell_cpu",
        "xdist_speedup_wall",
        "collect",
        "peak_memory",
    } <= report.keys()
    assert report["cells"] == 20
    # Each cassette peer is measured when installed (the bench extra), else named as skipped.
    peers = {"vcrpy_sdk", "cassetter_sdk"}
    measured = peers & report.keys()
    assert measured | report["peers_skipped"].keys() == peers
    assert not measured & report["peers_skipped"].keys()
    for run in ("floor", "respx", "matrix", "matrix_cold", "matrix_xdist"):
        assert {
            "tests",
            "wall_s",
            "cpu_s",
            "startup_wall_s",
            "per_cell_wall_ms",
            "per_cell_cpu_ms",
            "max_rss_mb",
        } <= report[run].keys()
        assert report[run]["tests"] == 20
    for run in ("byo_sdk", *measured):
        assert report[run]["tests"] == report["sdk_cells"] == 20
    for pair in (
        "matrix/floor",
        "matrix_cold/floor",
        "respx/floor",
        "byo_sdk/floor",
        *(f"byo_sdk/{p}" for p in measured),
    ):
        assert {"wall", "cpu"} <= report["ratios"][pair].keys()
    assert report["matrix_xdist"]["workers"] == 2
    assert {"cells", "collection_s", "command_start_to_collected_s", "collect_only_wall_s"} <= report["collect"].keys()
    assert report["collect"]["cells"] == 20
    assert {"cells", "max_rss_mb", "extrapolated_10000_mb", "note"} <= report["peak_memory"].keys()
