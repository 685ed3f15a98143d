"""A failed recording writes nothing; --kylecode-record-failed writes it anyway.

A cell that records (``once``, ``new_episodes``, ``all``, ``rewrite``) and does not pass leaves
its cassette, and under ``--snapshot-update`` its metrics snapshot, byte for byte as they were,
and creates neither when there was none. The end of the run lists the cassettes kept and why.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from matrix_helpers import BASIC, Matrix

TWO = BASIC.replace(
    "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]",
    "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]",
).replace("streaming: [true, false]", "streaming: [true]")
# The script changes (so every cassette must be re-recorded), and the new expectation cannot hold.
CHANGED = TWO.replace("text: Writing notes.", "text: Writing the notes now.").replace("steps: 3", "steps: 4")


def _tree(root: Path) -> dict[str, str]:
    """Every file under the cassette and snapshot trees with the hash of its bytes."""
    files = [*(root / "cassettes").rglob("*"), *(root / "scenarios" / "__snapshots__").rglob("*")]
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files if p.is_file()}


def test_a_rerecording_that_misses_its_expectations_changes_nothing(matrix: Matrix) -> None:
    matrix.scenario("basic", TWO)
    matrix.record().assert_outcomes(passed=2)
    before = _tree(matrix.root)
    assert len(before) == 4  # two cassettes, two snapshots
    matrix.scenario("basic", CHANGED)
    for mode in ("rewrite", "all", "new_episodes"):
        result = matrix.run(f"--kylecode-record={mode}", "--snapshot-update")
        result.assert_outcomes(failed=2)
        assert _tree(matrix.root) == before, mode
        result.stdout.fnmatch_lines(
            [
                "kylecode: kept 2 cassettes as they were: the cells failed (first: steps: expected 4, got 3*",
                "  cassettes/basic/anthropic/claude-sonnet-4-5/stream-native-none.yaml",
                "  cassettes/basic/openai/gpt-4o-mini/stream-native-none.yaml",
            ]
        )
        assert "cassettes changed" not in result.stdout.str()


def test_a_failed_first_recording_creates_no_cassette_and_no_snapshot(matrix: Matrix) -> None:
    matrix.scenario("basic", CHANGED)
    result = matrix.run("--kylecode-record=once", "--snapshot-update")
    result.assert_outcomes(failed=2)
    assert _tree(matrix.root) == {}
    assert "the cassette and the metrics snapshot were left as they were" in result.stdout.str()


def test_record_failed_writes_the_recording_of_a_failing_cell(matrix: Matrix) -> None:
    matrix.scenario("basic", CHANGED)
    result = matrix.run("--kylecode-record=once", "--kylecode-record-failed", "--snapshot-update")
    result.assert_outcomes(failed=2)
    written = _tree(matrix.root)
    assert len([p for p in written if p.startswith("cassettes/")]) == 2
    assert len([p for p in written if p.startswith("scenarios/__snapshots__/")]) == 2
    assert "kept" not in result.stdout.str()
    # What was written is what the cell did: it replays (and fails the same expectation) offline.
    replay = matrix.replay()
    replay.assert_outcomes(failed=2)
    replay.stdout.fnmatch_lines(["*steps: expected 4, got 3*"])


def test_a_passing_recording_is_written(matrix: Matrix) -> None:
    matrix.scenario("basic", TWO)
    result = matrix.run("--kylecode-record=once", "--snapshot-update")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["kylecode: 2 cassettes changed (review them with git diff):"])
    matrix.replay().assert_outcomes(passed=2)
