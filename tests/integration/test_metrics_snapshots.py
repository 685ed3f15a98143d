"""Metrics snapshots through syrupy: one JSON file per cell, compared, accepted with --snapshot-update.

What --snapshot-update deletes (only orphans, only on a full run): test_option_snapshot_update.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from matrix_helpers import BASIC, Matrix

SNAP = Path("scenarios/__snapshots__/basic/anthropic/claude-sonnet-4-5-stream-native-none.json")


def _snapshots(matrix: Matrix) -> list[str]:
    return sorted(
        p.relative_to(matrix.root).as_posix() for p in (matrix.root / "scenarios/__snapshots__").rglob("*.json")
    )


def test_one_snapshot_file_per_cell_beside_the_scenarios(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record().assert_outcomes(passed=6)
    files = _snapshots(matrix)
    assert len(files) == 6 and SNAP.as_posix() in files
    recorded = {name: (matrix.root / name).read_bytes() for name in files}
    snapshot = json.loads((matrix.root / SNAP).read_text())
    assert snapshot["schema"] == 1
    assert snapshot["summary"]["calls"] == 3 and snapshot["summary"]["successes"] == 3
    assert snapshot["completion"] == {
        "outcome": "completed",
        "reason": "tool_finish",
        "steps": 3,
        "error_category": None,
    }
    result = matrix.replay("-q")
    result.assert_outcomes(passed=6)
    assert result.ret == 0 and {name: (matrix.root / name).read_bytes() for name in _snapshots(matrix)} == recorded


def test_changed_metrics_fail_the_cell_until_updated(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record()
    data = json.loads((matrix.root / SNAP).read_text())
    data["summary"]["output_tokens"] += 1
    (matrix.root / SNAP).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    result = matrix.replay("-q")
    result.assert_outcomes(passed=5, failed=1)
    assert "metrics snapshot:" in result.stdout.str()
    assert '"output_tokens"' in result.stdout.str()
    matrix.run("--snapshot-update", ci=True).assert_outcomes(passed=6)
    matrix.replay("-q").assert_outcomes(passed=6)


def test_snapshot_update_keeps_the_baseline_of_a_cell_that_misses_expectations(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record()
    matrix.scenario("basic", BASIC.replace("steps: 3", "steps: 99"))
    result = matrix.run("--snapshot-update", ci=True)
    result.assert_outcomes(failed=6)
    assert "steps: expected 99, got 3" in result.stdout.str()
    assert (matrix.root / SNAP).exists()


def test_snapshot_false_writes_none(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC + "snapshot: false\n")
    matrix.record().assert_outcomes(passed=6)
    assert not (matrix.root / "scenarios/__snapshots__").exists()


def test_an_empty_or_unparsable_snapshot_is_reported_corrupt_not_as_a_diff(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record()
    other = Path("scenarios/__snapshots__/basic/openai/gpt-4o-mini-stream-native-none.json")
    (matrix.root / SNAP).write_text("")
    (matrix.root / other).write_text('{"schema": 1, "summary": {"calls"')  # cut short mid-write
    result = matrix.replay("-q")
    result.assert_outcomes(passed=4, failed=2)
    output = result.stdout.str()
    assert f"{SNAP} is corrupt: the file is empty" in output
    assert f"{other} is corrupt: not JSON" in output
    assert "differs (accept with --snapshot-update)" not in output
    matrix.run("--snapshot-update", ci=True).assert_outcomes(passed=6)
    assert json.loads((matrix.root / SNAP).read_text())["schema"] == 1
