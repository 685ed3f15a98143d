"""--kylecode-shard I/N: the shards partition the cells; a bad shard is a usage error."""

from __future__ import annotations

from matrix_helpers import BASIC, FAULTS, Matrix


def test_shards_partition_the_cells(matrix: Matrix) -> None:
    matrix.scenario("basic", FAULTS)
    seen: list[str] = []
    for shard in ("1/3", "2/3", "3/3"):
        result = matrix.run("--collect-only", "-q", f"--kylecode-shard={shard}")
        seen += [line for line in result.outlines if "::" in line]
    everything = [line for line in matrix.run("--collect-only", "-q").outlines if "::" in line]
    assert sorted(seen) == sorted(everything) and len(set(seen)) == len(seen) == 30


def test_bad_shard_is_a_usage_error(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    result = matrix.run("--kylecode-shard=4/3")
    assert result.ret == 4
    assert "--kylecode-shard 4/3: I must be between 1 and N" in result.stderr.str()
