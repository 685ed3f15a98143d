"""``kylecode cassettes check``: stale cassettes found without replay, orphan snapshots, replay said to be skipped.

One small matrix is recorded from the emulator (``--kylecode-record=once``, CI unset) in a real
pytest session; every test checks a copy of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_kylecode.cli import main

SCENARIO = """\
name: hello
task: List the workspace, then finish.
workspace: {README.md: "# demo\\n"}
agent: {max_steps: 4, failover: []}
script:
  - tool_calls: [{name: list_dir, arguments: {path: "."}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: listed}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true, false]
  tools: [native]
  fault: [none]
expect: {outcome: completed, steps: 2}
"""
CASSETTES = [
    "cassettes/hello/anthropic/claude-sonnet-4-5/nostream-native-none.yaml",
    "cassettes/hello/anthropic/claude-sonnet-4-5/stream-native-none.yaml",
    "cassettes/hello/openai/gpt-4o-mini/nostream-native-none.yaml",
    "cassettes/hello/openai/gpt-4o-mini/stream-native-none.yaml",
]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("recording")
    (root / "scenarios").mkdir()
    (root / "scenarios/hello.yaml").write_text(SCENARIO, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_XDIST_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--kylecode-matrix",
            "--kylecode-record=once",
            "--snapshot-update",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root


@pytest.fixture
def project(recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for part in ("scenarios", "cassettes"):
        shutil.copytree(recording / part, tmp_path / part)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["cassettes", "check", *args])
    return code, capsys.readouterr().out.splitlines()


def change_task(project: Path) -> None:
    path = project / "scenarios/hello.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("List the workspace", "List the files"), encoding="utf-8")


def test_a_recorded_tree_is_clean_and_replay_skipped_is_said(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = check(capsys, "--no-replay")
    assert code == 0
    assert out == [
        "4 cells, 4 cassettes, 4 snapshots: 0 orphan cassettes, 0 missing, 0 stale, 0 orphan snapshots; "
        "replay skipped (--no-replay): no cell was replayed, unplayed interactions are not checked"
    ]
    code, out = check(capsys)
    assert code == 0 and out[-1].endswith("; 0 replay problems")


def test_no_replay_reports_the_cassettes_of_a_changed_scenario_as_stale(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change_task(project)
    code, out = check(capsys, "--no-replay")
    assert code == 1
    stale = [
        line for line in out if line.startswith("stale cassette (recorded for another version of scenario 'hello'")
    ]
    assert sorted(line.rsplit(": ", 1)[1] for line in stale) == CASSETTES
    assert "4 stale" in out[-1] and "replay skipped (--no-replay)" in out[-1] and "replay problems" not in out[-1]


def test_replay_does_not_replay_stale_cassettes_again(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    change_task(project)
    code, out = check(capsys)
    assert code == 1
    assert len([line for line in out if line.startswith("stale cassette")]) == 4
    assert len(out) == 5 and out[-1].endswith("4 stale, 0 orphan snapshots; 0 replay problems")


def test_a_removed_axis_value_leaves_orphan_snapshots(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "scenarios/hello.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("streaming: [true, false]", "streaming: [false]"), encoding="utf-8"
    )
    code, out = check(capsys, "--no-replay")
    assert code == 1
    assert [line for line in out if line.startswith("orphan snapshot")] == [
        "orphan snapshot (no cell of any scenario takes it): "
        "scenarios/__snapshots__/hello/anthropic/claude-sonnet-4-5-stream-native-none.json",
        "orphan snapshot (no cell of any scenario takes it): "
        "scenarios/__snapshots__/hello/openai/gpt-4o-mini-stream-native-none.json",
    ]
    assert "2 orphan cassettes" in out[-1] and "2 orphan snapshots" in out[-1]


def test_an_invalid_scenario_leaves_its_snapshots_unjudged(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = project / "scenarios/hello.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("task:", "taks:"), encoding="utf-8")
    code, out = check(capsys, "--no-replay")
    assert code == 1  # its cassettes are orphans: no valid cell records them
    assert not [line for line in out if line.startswith("orphan snapshot")]
    assert "1 scenario files do not validate: snapshots of names that no valid scenario has were not judged" in out


def test_temporary_files_of_interrupted_writes_are_reported(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What a write cut short by a kill -9 leaves: nothing reads it, git shows it."""
    cassette = project / CASSETTES[0]
    snapshot = project / "scenarios/__snapshots__/hello/openai/gpt-4o-mini-stream-native-none.json"
    left = [cassette.with_name(f".{cassette.name}.4242.tmp"), snapshot.with_name(f".{snapshot.name}.77.tmp")]
    for path in left:
        path.write_text("half a file")
    (cassette.parent / ".notes.tmp").write_text("a user's own hidden file")  # not a write of ours
    code, out = check(capsys, "--no-replay")
    assert code == 1
    reported = [line.rsplit(": ", 1)[1] for line in out if line.startswith("temporary file of an interrupted write")]
    assert reported == sorted(str(path.relative_to(project)) for path in left)
    assert out[-1].endswith("; 2 temporary files")
