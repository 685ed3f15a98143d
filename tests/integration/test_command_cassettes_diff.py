"""``kylecode cassettes diff``: three prepared re-records of one recorded matrix, in a real git repository.

A scenario is recorded from the emulator (a real pytest session, ``--kylecode-record=once``) and
committed; then its script is changed and its cells re-recorded (``--kylecode-record=rewrite``),
and the command compares the working tree with ``HEAD``: a reworded answer is benign, changed
tool arguments and one call more are behavioural.
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
name: drift
task: List the workspace, then finish.
workspace: {README.md: "# demo\\n", src/a.c: "int a;\\n"}
agent: {max_steps: 6, failover: []}
script:
  - tool_calls: [{name: list_dir, arguments: {path: "."}}]
  - text: Two entries.
    tool_calls: [{name: mark_task_complete, arguments: {summary: listed}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true, false]
  tools: [native]
  fault: [none]
"""
CASSETTES = sorted(
    f"cassettes/drift/{route}/{mode}-native-none.yaml"
    for route in ("openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5")
    for mode in ("stream", "nostream")
)
# Each recording also accepts the new metrics snapshots, as a re-record does.
RECORD = {mode: (f"--kylecode-record={mode}", "--snapshot-update") for mode in ("once", "rewrite")}
GIT = shutil.which("git")
pytestmark = [
    pytest.mark.skipif(GIT is None, reason="git is not installed: cassettes diff reads revisions with git"),
    pytest.mark.slow,  # each test re-records a matrix in a subprocess
]


def _git(root: Path, *argv: str) -> None:
    env = os.environ | {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env |= {"GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", *argv], cwd=root, env=env, check=True, capture_output=True)


def _record(root: Path, mode: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CI" and not k.startswith("PYTEST_XDIST_")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--kylecode-matrix", *RECORD[mode]],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("drift")
    (root / "scenarios").mkdir()
    (root / "scenarios/drift.yaml").write_text(SCENARIO, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    _record(root, "once")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "recorded")
    return root


@pytest.fixture
def project(committed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    shutil.copytree(committed, root)
    monkeypatch.chdir(root / "scenarios")  # the command finds the project (and its cassettes) from below
    return root


def rerecord(root: Path, old: str, new: str) -> None:
    path = root / "scenarios/drift.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    _record(root, "rewrite")


def diff(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[str]]:
    code = main(["cassettes", "diff", *args])
    return code, capsys.readouterr().out.splitlines()


def verdicts(out: list[str]) -> dict[str, str]:
    """cassette path -> its drift, from the lines that name a cassette."""
    return {line.split()[1]: line.split()[0] for line in out if line.startswith(("behavioural ", "benign ", "ident"))}


def test_a_reworded_answer_is_benign(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rerecord(project, "text: Two entries.", "text: There are two entries in the workspace root.")
    code, out = diff(capsys)
    assert code == 0
    assert verdicts(out) == dict.fromkeys(CASSETTES, "benign")
    assert all("(text" in line for line in out if line.startswith("benign "))
    assert out[-1] == "4 changed cassettes against HEAD: 4 benign"


def test_changed_tool_arguments_are_behavioural(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rerecord(project, 'arguments: {path: "."}', 'arguments: {path: "src"}')
    code, out = diff(capsys)
    assert code == 0
    assert verdicts(out) == dict.fromkeys(CASSETTES, "behavioural")
    changes = [line.strip() for line in out if line.strip().startswith("! ") and "tool-call arguments" in line]
    assert len(changes) == 4
    assert all(c.endswith('list_dir: {"path": "."} -> {"path": "src"}') and "call #1" in c for c in changes)


def test_one_call_more_is_behavioural_and_the_markdown_says_so(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rerecord(
        project,
        "  - text: Two entries.",
        "  - tool_calls: [{name: read_file, arguments: {path: README.md}}]\n  - text: Two entries.",
    )
    code, out = diff(capsys)
    assert code == 0
    assert verdicts(out) == dict.fromkeys(CASSETTES, "behavioural")
    counts = [line.strip() for line in out if line.strip().startswith("! ") and "number of calls" in line]
    assert len(counts) == 4 and all("2 -> 3 (added: #3" in c for c in counts)
    code, markdown = diff(capsys, "--format", "markdown", "HEAD")
    assert code == 0
    assert markdown[0] == "## Cassette drift"
    rows = [line for line in markdown if line.startswith("| `cassettes/")]
    assert sorted(row.split("`")[1] for row in rows) == CASSETTES
    assert all("**behavioural**" in row and "number of calls: 2 -> 3" in row for row in rows)


def test_an_unchanged_rerecord_is_no_change_and_a_bad_revision_is_an_error(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _record(project, "rewrite")  # the emulator answers the same: the same bytes, only the provenance moves
    code, out = diff(capsys)
    assert code == 0
    assert set(verdicts(out).values()) <= {"identical"}
    assert main(["cassettes", "diff", "no-such-revision"]) == 2
    assert "unknown revision 'no-such-revision'" in capsys.readouterr().err
