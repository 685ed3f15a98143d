"""--kylecode-runs and --kylecode-keep-runs: where run directories go, and which cells keep theirs."""

from __future__ import annotations

from matrix_helpers import Matrix, record_faults


def test_failing_cells_keep_their_run_directory(matrix: Matrix) -> None:
    record_faults(matrix)
    result = matrix.replay("-q", "--kylecode-runs=runs")
    runs = sorted(p.name for p in (matrix.root / "runs").iterdir())
    assert len(runs) == 1 and "basic_openai-responses_gpt-4.1-stream-text-stall" in runs[0]
    run_dir = matrix.root / "runs" / runs[0]
    assert f"run directory: {run_dir}" in result.stdout.str()
    for name in ("meta/run.json", "meta/provider_metrics.json", "conversation/conversation.md"):
        assert (run_dir / name).is_file()
    kept = matrix.replay("-q", "--kylecode-runs=all", "--kylecode-keep-runs")
    kept.assert_outcomes(passed=29, failed=1)
    assert len(list((matrix.root / "all").iterdir())) == 30
