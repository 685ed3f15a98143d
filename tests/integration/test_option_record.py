"""--kylecode-record: none (default, forced under CI) | once | new_episodes | all | rewrite | off.

What a replay does with the cassettes it finds: test_cassette_replay.py.
"""

from __future__ import annotations

import os

import yaml
from matrix_helpers import BASIC, CASSETTE, ONE, Matrix, load_cassette


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


def test_recording_is_refused_under_ci(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    result = matrix.run("--kylecode-record=all", ci=True)
    assert result.ret == 4
    assert "--kylecode-record=all is refused because CI is set" in result.stderr.str()
    allowed = matrix.run("--kylecode-record=all", "--kylecode-allow-record-in-ci", "--snapshot-update", ci=True)
    allowed.assert_outcomes(passed=1)


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
    data = load_cassette(matrix)
    data["interactions"] = data["interactions"][:1]
    (matrix.root / CASSETTE).write_text(yaml.safe_dump(data, sort_keys=False))
    matrix.replay("-q").assert_outcomes(failed=1)
    matrix.run("--kylecode-record=new_episodes").assert_outcomes(passed=1)
    assert len(load_cassette(matrix)["interactions"]) == 3


def test_off_talks_to_the_upstream_and_writes_nothing(matrix: Matrix) -> None:
    matrix.scenario("basic", ONE)
    matrix.run("--kylecode-record=off", "--snapshot-update").assert_outcomes(passed=1)
    assert not (matrix.root / "cassettes").exists()


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


def test_a_cassette_write_the_disk_refuses_keeps_the_old_cassette_and_leaves_no_temporary_file(
    matrix: Matrix,
) -> None:
    """A file size limit (``ulimit -f``) below the cassette's size: the write fails half-way."""
    import resource
    import signal
    import subprocess
    import sys

    matrix.scenario("basic", ONE)
    matrix.record().assert_outcomes(passed=1)
    before = (matrix.root / CASSETTE).read_bytes()
    matrix.scenario("basic", ONE.replace("write notes.txt", "write the notes.txt file"))  # re-record it all

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_XDIST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--kylecode-matrix", "--kylecode-record=all", "--snapshot-update", "-q"],
        cwd=matrix.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_file_size,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"cannot write {matrix.root / CASSETTE}: File too large; the cassette on disk is as it was" in done.stdout
    assert "Traceback" not in done.stdout
    assert (matrix.root / CASSETTE).read_bytes() == before
    assert [p.name for p in (matrix.root / CASSETTE).parent.iterdir()] == [CASSETTE.name]
