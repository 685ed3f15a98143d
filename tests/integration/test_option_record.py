"""--kylecode-record: none (default, forced under CI) | once | new_episodes | all | rewrite | off."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from matrix_helpers import BASIC, Matrix

ONE = BASIC.replace(
    "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]",
    "provider: [anthropic/claude-sonnet-4-5]",
).replace("streaming: [true, false]", "streaming: [true]")
CASSETTE = Path("cassettes/basic/anthropic/claude-sonnet-4-5/stream-native-none.yaml")
NODE = "scenarios/basic.yaml::basic[anthropic/claude-sonnet-4-5-stream-native-none]"


def _cassette(matrix: Matrix) -> dict:
    return yaml.safe_load((matrix.root / CASSETTE).read_text())


def test_record_writes_one_readable_cassette_per_cell(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record().assert_outcomes(passed=6)
    files = sorted(p.relative_to(matrix.root).as_posix() for p in (matrix.root / "cassettes").rglob("*.yaml"))
    assert len(files) == 6 and CASSETTE.as_posix() in files
    text = (matrix.root / CASSETTE).read_text()
    assert "!!binary" not in text
    data = yaml.safe_load(text)
    assert data["kylecode"]["scenario"] == "basic" and data["kylecode"]["upstream"] == "emulator"
    assert data["kylecode"]["scenario_hash"].startswith("sha256:")
    first = data["interactions"][0]
    assert first["request"]["uri"] == "https://api.anthropic.com/v1/messages"
    assert first["request"]["parsed_body"]["model"] == "claude-sonnet-4-5"  # JSON stored as data
    events = first["response"]["sse"]
    assert events[0]["event"] == "message_start" and events[0]["t"] > 0  # SSE as timed events
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    assert len(data["interactions"]) == 3


def test_replay_under_ci_is_offline_and_default(matrix: Matrix) -> None:
    matrix.scenario("basic", BASIC)
    matrix.record()
    matrix.replay("-q").assert_outcomes(passed=6)


def test_recording_is_refused_under_ci(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    result = matrix.run("--kylecode-record=all", ci=True)
    assert result.ret == 4
    assert "--kylecode-record=all is refused because CI is set" in result.stderr.str()
    allowed = matrix.run("--kylecode-record=all", "--kylecode-allow-record-in-ci", "--snapshot-update", ci=True)
    allowed.assert_outcomes(passed=1)


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


def test_rerecording_identical_traffic_leaves_the_file_untouched(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    first = matrix.record()
    assert "kylecode: 1 cassettes changed" in first.stdout.str()
    before = (matrix.root / CASSETTE).read_bytes()
    stamp = os.stat(matrix.root / CASSETTE).st_mtime_ns
    second = matrix.record()
    assert "cassettes changed" not in second.stdout.str()
    assert (matrix.root / CASSETTE).read_bytes() == before
    assert os.stat(matrix.root / CASSETTE).st_mtime_ns == stamp


def test_once_records_only_missing_cassettes(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.run("--kylecode-record=once", "--snapshot-update").assert_outcomes(passed=1)
    assert (matrix.root / CASSETTE).exists()
    (matrix.root / CASSETTE).write_text((matrix.root / CASSETTE).read_text().replace("recorded_at", "recorded_at_x"))
    matrix.run("--kylecode-record=once").assert_outcomes(passed=1)
    assert "recorded_at_x" in (matrix.root / CASSETTE).read_text()  # existing cassette replayed, not rewritten


def test_new_episodes_appends_what_the_cassette_lacks(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record()
    data = _cassette(matrix)
    data["interactions"] = data["interactions"][:1]
    (matrix.root / CASSETTE).write_text(yaml.safe_dump(data, sort_keys=False))
    matrix.replay("-q").assert_outcomes(failed=1)
    matrix.run("--kylecode-record=new_episodes").assert_outcomes(passed=1)
    assert len(_cassette(matrix)["interactions"]) == 3


def test_off_talks_to_the_upstream_and_writes_nothing(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.run("--kylecode-record=off", "--snapshot-update").assert_outcomes(passed=1)
    assert not (matrix.root / "cassettes").exists()


def test_replay_miss_shows_a_diff_against_the_nearest_request(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.record()
    matrix.scenario("basic", ONE)  # unchanged scenario, changed runtime behaviour simulated in the cassette:
    data = _cassette(matrix)
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
    data = _cassette(matrix)
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
    data = _cassette(matrix)
    del data["interactions"][1]["response"]["status"]
    (matrix.root / CASSETTE).write_text(yaml.safe_dump(data, sort_keys=False))
    result = matrix.replay("-q")
    result.assert_outcomes(failed=1)
    assert f"{matrix.root / CASSETTE}: interaction 1 is corrupt (KeyError: 'status')" in result.stdout.str()
    (matrix.root / CASSETTE).write_text("interactions: [unclosed\n")
    result = matrix.replay("-q")
    assert f"{matrix.root / CASSETTE}:2: corrupt cassette (invalid YAML" in result.stdout.str()


def test_workspace_path_never_reaches_a_cassette(matrix: Matrix) -> None:
    """Replays elsewhere must match: the temp workspace path is normalized to <workspace>."""
    text = ONE.replace(
        'tool_calls: [{name: list_dir, arguments: {path: "."}}]',
        'tool_calls: [{name: run_shell, arguments: {command: "pwd"}}]',
    ).replace(
        "tool_sequence: [list_dir, write_file, mark_task_complete]",
        "tool_sequence: [run_shell, write_file, mark_task_complete]",
    )
    matrix.scenario("basic", text)
    matrix.record().assert_outcomes(passed=1)
    cassette = (matrix.root / CASSETTE).read_text()
    assert "kylecode-ws-" not in cassette and "/tmp" not in cassette
    matrix.replay("-q").assert_outcomes(passed=1)
