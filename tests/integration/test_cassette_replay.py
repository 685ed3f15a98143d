"""Replay (record mode none, the default, and forced under CI): offline, and every way a cassette can fail a cell."""

from __future__ import annotations

import pytest
import yaml
from matrix_helpers import BASIC, CASSETTE, NODE, ONE, Matrix, load_cassette


def test_replay_under_ci_is_offline_and_default(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record()
    matrix.replay("-q").assert_outcomes(passed=6)


def test_missing_cassette_fails_with_the_rerecord_command(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    result = matrix.replay("-q")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert f"no cassette for this cell: {matrix.root / CASSETTE}" in out
    assert (
        f"re-record this cell: env -u CI pytest --kylecode-matrix --kylecode-record=rewrite --snapshot-update '{NODE}'"
    ) in out
    assert (
        "re-record the whole scenario: env -u CI pytest --kylecode-matrix --kylecode-record=rewrite "
        "--snapshot-update scenarios/basic.yaml"
    ) in out


def test_replay_miss_shows_a_diff_against_the_nearest_request(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record()
    matrix.scenario("basic", ONE)  # unchanged scenario, changed runtime behaviour simulated in the cassette:
    data = load_cassette(matrix)
    data["interactions"][1]["request"]["parsed_body"]["max_tokens"] = 1234
    (matrix.root / CASSETTE).write_text(yaml.safe_dump(data, sort_keys=False))
    result = matrix.replay("-q", "-rN")  # no short summary: the failure is printed once
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    # The first miss ends the cell: the runtime does not retry it as a connection error.
    assert "replay miss: no recorded interaction matches POST https://api.anthropic.com/v1/messages" in out
    assert out.count("no recorded interaction matches") == 1
    assert "nearest: interaction 1" in out
    assert '-  "max_tokens": 1234,' in out and '+  "max_tokens": 4096,' in out
    assert "re-record this cell: env -u CI pytest" in out


def test_unplayed_interaction_fails_the_cell(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record()
    data = load_cassette(matrix)
    data["interactions"].append(data["interactions"][0])
    (matrix.root / CASSETTE).write_text(yaml.safe_dump(data, sort_keys=False))
    result = matrix.replay("-q")
    result.assert_outcomes(failed=1)
    assert "interaction 3 (POST https://api.anthropic.com/v1/messages)" in result.stdout.str()
    assert "was recorded but never requested" in result.stdout.str()


def test_a_changed_scenario_invalidates_its_cassettes(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record()
    matrix.scenario("basic", ONE.replace("List the workspace", "List the whole workspace"))
    result = matrix.replay("-q")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "was recorded for another version of scenario 'basic'" in out
    assert "its task, workspace, script or agent changed" in out and "re-record this cell" in out


def test_corrupt_cassette_names_the_file_and_the_interaction(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record()
    data = load_cassette(matrix)
    del data["interactions"][1]["response"]["status"]
    (matrix.root / CASSETTE).write_text(yaml.safe_dump(data, sort_keys=False))
    result = matrix.replay("-q")
    result.assert_outcomes(failed=1)
    assert f"{matrix.root / CASSETTE}: interaction 1 is corrupt (KeyError: 'status')" in result.stdout.str()
    (matrix.root / CASSETTE).write_text("interactions: [unclosed\n")
    result = matrix.replay("-q")
    assert f"{matrix.root / CASSETTE}:2: corrupt cassette (invalid YAML" in result.stdout.str()


def test_a_cassette_over_the_limits_is_refused_naming_the_file_and_the_interaction(
    matrix: Matrix, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 200,000-deep request body and an oversized file: clear errors, no RecursionError, no parse."""
    from pytest_kylecode.cassettes.limits import MAX_CASSETTE_BYTES, MAX_DEPTH
    from pytest_kylecode.cli import main

    path = matrix.root / CASSETTE
    matrix.scenario("basic", ONE)
    matrix.record()
    data = load_cassette(matrix)
    del data["interactions"][1]["request"]["parsed_body"]
    data["interactions"][1]["request"]["body"] = "[" * 200_000 + "]" * 200_000
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    deep = [f"{path}: interaction 1 is corrupt", f"the JSON nests 200000 levels deep; at most {MAX_DEPTH} are read"]
    result = matrix.replay("-q")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert all(part in out for part in deep) and "RecursionError" not in out
    capsys.readouterr()
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert all(part in err for part in deep) and "RecursionError" not in err

    with path.open("a") as stream:  # still valid YAML: a comment nobody would read
        stream.write("#" + "x" * MAX_CASSETTE_BYTES + "\n")
    size = path.stat().st_size
    result = matrix.replay("-q")
    result.assert_outcomes(failed=1)
    too_big = f"{path}: the cassette is {size} bytes, over the limit of {MAX_CASSETTE_BYTES} bytes"
    assert too_big in result.stdout.str()
    assert main(["inspect", str(path)]) == 2
    assert too_big in capsys.readouterr().err


def test_parsed_cassettes_kept_in_the_pytest_cache_never_hide_a_hand_edit(matrix: Matrix) -> None:
    # pytest's cache provider on (the suite's inner sessions turn it off): replay keeps each
    # cassette's parse under .pytest_cache, and an edited cassette is read afresh.
    matrix.pytester.makeini("[pytest]\nfilterwarnings = ignore::pytest.PytestAssertRewriteWarning\n")
    matrix.scenario("basic", ONE)
    matrix.record()
    matrix.replay("-q").assert_outcomes(passed=1)
    kept = matrix.root / ".pytest_cache" / "d" / "kylecode-parsed-cassettes"
    assert len(list(kept.glob("*.marshal"))) == 1
    matrix.replay("-q").assert_outcomes(passed=1)
    data = load_cassette(matrix)
    data["interactions"][1]["request"]["parsed_body"]["max_tokens"] = 1234
    (matrix.root / CASSETTE).write_text(yaml.safe_dump(data, sort_keys=False))
    result = matrix.replay("-q", "-rN")
    result.assert_outcomes(failed=1)
    assert '-  "max_tokens": 1234,' in result.stdout.str()
