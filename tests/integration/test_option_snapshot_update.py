"""``--snapshot-update`` deletes only what it knows is dead.

A recorded matrix (two scenarios, eight cells), then sessions that leave cells out (``-k``, ``-x``,
``--maxfail``, a shard, skips, cells failing before their snapshot, a stopped live budget): the
snapshot tree is byte-identical afterwards and no line speaks of unused snapshots. Snapshots that
no cell of any scenario takes any more (a removed scenario, a removed axis value) are orphans:
listed at the end of every session, deleted by ``--snapshot-update`` on a full run only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from matrix_helpers import BASIC, Matrix

from pytest_kylecode.cli import main
from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport
from pytest_kylecode.loopback import LoopbackServer
from pytest_kylecode.scenarios.matrix import load_scenario

SNAPSHOTS = "scenarios/__snapshots__"
SECOND = BASIC.replace("name: basic", "name: second").replace(
    "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]",
    "provider: [openai/gpt-4o-mini]",
)
# The orphans once `second.yaml` is removed and `basic` streams no more.
ORPHANS = [
    f"{SNAPSHOTS}/basic/anthropic/claude-sonnet-4-5-stream-native-none.json",
    f"{SNAPSHOTS}/basic/openai-responses/gpt-4.1-stream-native-none.json",
    f"{SNAPSHOTS}/basic/openai/gpt-4o-mini-stream-native-none.json",
    f"{SNAPSHOTS}/second/openai/gpt-4o-mini-nostream-native-none.json",
    f"{SNAPSHOTS}/second/openai/gpt-4o-mini-stream-native-none.json",
]


def digest(matrix: Matrix) -> dict[str, str]:
    """Every file of the snapshot tree and the SHA-256 of its bytes."""
    root = matrix.root / SNAPSHOTS
    return {
        p.relative_to(matrix.root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def speaks_of_unused(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines + result.errlines if "unused" in line.lower()]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two scenarios, recorded once from the emulator (``--kylecode-record=once``, CI unset)."""
    root = tmp_path_factory.mktemp("recording")
    (root / "scenarios").mkdir()
    for name, text in (("basic", BASIC), ("second", SECOND)):
        (root / "scenarios" / f"{name}.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
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
def recorded(matrix: Matrix, recording: Path) -> dict[str, str]:
    """This test's copy of the recording; the digest of its snapshot tree."""
    for part in ("scenarios", "cassettes"):
        shutil.copytree(recording / part, matrix.root / part, dirs_exist_ok=True)
    tree = digest(matrix)
    assert len(tree) == 8
    return tree


def edit_basic(matrix: Matrix, old: str, new: str) -> None:
    path = matrix.root / "scenarios/basic.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# -- cells that did not run keep their snapshots ------------------------------------------------


def test_deselected_cells_keep_their_snapshots(matrix: Matrix, recorded: dict[str, str]) -> None:
    result = matrix.run("--snapshot-update", "-k", "anthropic", ci=True)
    result.assert_outcomes(passed=2)
    assert digest(matrix) == recorded
    assert speaks_of_unused(result) == []


def test_cells_after_x_keep_their_snapshots(matrix: Matrix, recorded: dict[str, str]) -> None:
    # The first cell fails before its snapshot (no cassette): no cell of the session reaches one.
    (matrix.root / "cassettes/basic/openai/gpt-4o-mini/stream-native-none.yaml").unlink()
    result = matrix.run("--snapshot-update", "-x", ci=True)
    result.assert_outcomes(failed=1)
    assert digest(matrix) == recorded
    assert speaks_of_unused(result) == []


def test_cells_after_maxfail_keep_their_snapshots(matrix: Matrix, recorded: dict[str, str]) -> None:
    # The third cell takes its snapshot, then misses its expectations: five cells never run.
    (matrix.root / "scenarios/basic.yaml").write_text(
        (matrix.root / "scenarios/basic.yaml").read_text(encoding="utf-8")
        + "overrides:\n  - when: {provider: anthropic/claude-sonnet-4-5, streaming: true}\n    expect: {steps: 99}\n",
        encoding="utf-8",
    )
    result = matrix.run("--snapshot-update", "--maxfail=1", ci=True)
    result.assert_outcomes(passed=2, failed=1)
    assert digest(matrix) == recorded
    assert speaks_of_unused(result) == []


@pytest.mark.parametrize("shard", ["1/2", "2/2"])
def test_other_shards_keep_their_snapshots(matrix: Matrix, recorded: dict[str, str], shard: str) -> None:
    result = matrix.run("--snapshot-update", f"--kylecode-shard={shard}", ci=True)
    assert result.ret == 0
    assert 0 < result.parseoutcomes()["passed"] < 8
    assert digest(matrix) == recorded
    assert speaks_of_unused(result) == []


def test_skipped_cells_keep_their_snapshots(matrix: Matrix, recorded: dict[str, str]) -> None:
    edit_basic(matrix, "expect:\n", "overrides:\n  - when: {provider: anthropic/*}\n    skip: not today\nexpect:\n")
    result = matrix.run("--snapshot-update", ci=True)
    result.assert_outcomes(passed=6, skipped=2)
    assert result.ret == 0
    assert digest(matrix) == recorded
    assert speaks_of_unused(result) == [] and "orphan snapshots (" not in result.stdout.str()


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_cells_failing_before_their_snapshot_keep_it(
    matrix: Matrix, recorded: dict[str, str], workers: tuple[str, ...]
) -> None:
    # A changed task invalidates every cassette: every cell fails before its snapshot.
    edit_basic(matrix, "task: List the workspace", "task: Now list the workspace")
    result = matrix.run("--snapshot-update", *workers, ci=True, subprocess=bool(workers))
    result.assert_outcomes(passed=2, failed=6)
    assert digest(matrix) == recorded
    assert speaks_of_unused(result) == []


def test_a_stopped_live_budget_keeps_the_snapshots_of_the_cells_it_stopped(
    matrix: Matrix, recorded: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = load_scenario(matrix.root / "scenarios/basic.yaml").script
    with LoopbackServer(EmulatorTransport(script, timing=IMMEDIATE)) as server:
        for provider in ("OPENAI", "ANTHROPIC", "OPENAI_RESPONSES"):
            monkeypatch.setenv(f"KYLECODE_{provider}_BASE_URL", f"{server.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-placeholder-0000000000000000")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-placeholder-000000000000")
        # Three calls a cell: the first cell records, the second is refused its first call.
        result = matrix.run(
            "--kylecode-upstream=live", "--kylecode-record=rewrite", "--kylecode-max-live-calls=3", "--snapshot-update"
        )
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*live call budget exhausted*"])
    after = digest(matrix)
    assert after.keys() == recorded.keys()
    ran = {
        f"{SNAPSHOTS}/basic/openai/gpt-4o-mini-stream-native-none.json",
        f"{SNAPSHOTS}/basic/openai/gpt-4o-mini-nostream-native-none.json",
    }
    assert {k: v for k, v in after.items() if k not in ran} == {k: v for k, v in recorded.items() if k not in ran}
    assert speaks_of_unused(result) == []


def test_an_updated_snapshot_replaces_the_file_whole(matrix: Matrix, recorded: dict[str, str]) -> None:
    path = matrix.root / f"{SNAPSHOTS}/basic/openai/gpt-4o-mini-stream-native-none.json"
    stale = path.read_text(encoding="utf-8").replace('"schema": 1', '"schema": 0')
    path.write_text(stale, encoding="utf-8")
    with path.open(encoding="utf-8") as reader:  # a reader that opened the file before the update
        matrix.run("--snapshot-update", ci=True).assert_outcomes(passed=8)
        assert reader.read() == stale  # still the whole old file: never truncated and rewritten in place
    assert digest(matrix) == recorded
    assert not [p for p in (matrix.root / SNAPSHOTS).rglob(".*")], "a temporary file was left behind"


# -- orphans ---------------------------------------------------------------------------------


def make_orphans(matrix: Matrix) -> None:
    (matrix.root / "scenarios/second.yaml").unlink()
    edit_basic(matrix, "streaming: [true, false]", "streaming: [false]")


def orphan_lines(result: pytest.RunResult) -> list[str]:
    return sorted(line.strip() for line in result.outlines if line.strip().startswith(f"{SNAPSHOTS}/"))


def test_orphans_are_reported_by_the_session_and_by_cassettes_check(
    matrix: Matrix, recorded: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    make_orphans(matrix)
    result = matrix.run(ci=True)
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["kylecode: 5 orphan snapshots (no cell of any scenario takes them):"])
    assert orphan_lines(result) == ORPHANS
    assert result.ret == 1  # a full run with orphans fails, as one with unused snapshots does
    assert matrix.run("--snapshot-warn-unused", ci=True).ret == 0
    assert digest(matrix) == recorded  # reported, never deleted without --snapshot-update

    capsys.readouterr()
    assert main(["cassettes", "check", "--no-replay"]) == 1
    out = capsys.readouterr().out
    assert (
        sorted(
            line.rsplit(": ", 1)[1]
            for line in out.splitlines()
            if line.startswith("orphan snapshot (no cell of any scenario takes it): ")
        )
        == ORPHANS
    )
    assert "5 orphan snapshots" in out.splitlines()[-1]


def test_orphans_are_kept_by_a_partial_run(matrix: Matrix, recorded: dict[str, str]) -> None:
    make_orphans(matrix)
    kept = "kept: --snapshot-update deletes them only on a run of every cell of every scenario*"
    for args in (("-k", "anthropic"), ("--kylecode-shard=1/2",)):
        result = matrix.run("--snapshot-update", *args, ci=True)
        assert result.ret == 0, args
        assert orphan_lines(result) == ORPHANS, args
        result.stdout.fnmatch_lines([kept])
        assert digest(matrix) == recorded, args
    # A path that leaves a scenario file out: only the loaded scenario's orphans can be told.
    matrix.scenario("third", SECOND.replace("name: second", "name: third"))
    result = matrix.run("--snapshot-update", "scenarios/basic.yaml", ci=True)
    result.assert_outcomes(passed=3)
    assert orphan_lines(result) == [o for o in ORPHANS if "/basic/" in o]
    result.stdout.fnmatch_lines([kept + "did not load every scenario file*"])
    assert digest(matrix) == recorded
    (matrix.root / "scenarios/third.yaml").unlink()
    edit_basic(matrix, "steps: 3", "steps: 99")  # every cell fails: -x stops after the first
    result = matrix.run("--snapshot-update", "-x", ci=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([kept + "1 of 3 cells ran*"])
    assert digest(matrix) == recorded


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one-process", "xdist"])
def test_orphans_are_deleted_by_a_full_run(matrix: Matrix, recorded: dict[str, str], workers: tuple[str, ...]) -> None:
    make_orphans(matrix)
    result = matrix.run("--snapshot-update", *workers, ci=True, subprocess=bool(workers))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["kylecode: deleted 5 orphan snapshots (no cell of any scenario takes them):"])
    assert digest(matrix) == {k: v for k, v in recorded.items() if k not in ORPHANS}
    assert not (matrix.root / SNAPSHOTS / "second").exists()  # no empty directories left behind
    again = matrix.run(ci=True)
    again.assert_outcomes(passed=3)
    assert again.ret == 0 and "orphan snapshots (" not in again.stdout.str()


def test_a_scenario_that_stops_validating_keeps_its_snapshots(matrix: Matrix, recorded: dict[str, str]) -> None:
    edit_basic(matrix, "task:", "taks:")  # its name is still `basic`, but nothing else can be known
    result = matrix.run("--snapshot-update", ci=True)
    result.assert_outcomes(passed=2, failed=1)
    assert digest(matrix) == recorded
    assert "orphan snapshots (" not in result.stdout.str()


def test_snapshots_outside_any_cell_layout_are_not_judged(matrix: Matrix, recorded: dict[str, str]) -> None:
    # Other syrupy extensions' files in the same tree (amber beside, single-file one level down).
    foreign = [matrix.root / SNAPSHOTS / "test_other.ambr", matrix.root / SNAPSHOTS / "test_other" / "case.json"]
    for path in foreign:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n", encoding="utf-8")
    make_orphans(matrix)
    result = matrix.run("--snapshot-update", ci=True)
    result.assert_outcomes(passed=3)
    assert orphan_lines(result) == ORPHANS
    assert all(path.exists() for path in foreign)


def test_snapshot_disable_unused_turns_the_report_off(matrix: Matrix, recorded: dict[str, str]) -> None:
    make_orphans(matrix)
    result = matrix.run("--snapshot-update", "--snapshot-disable-unused", ci=True)
    result.assert_outcomes(passed=3)
    assert "orphan snapshots (" not in result.stdout.str()
    assert digest(matrix) == recorded


def test_collection_alone_deletes_nothing(matrix: Matrix, recorded: dict[str, str]) -> None:
    make_orphans(matrix)
    result = matrix.run("--snapshot-update", "--collect-only", "-q", ci=True)
    assert result.ret == 0
    assert digest(matrix) == recorded
    assert Path(matrix.root / ORPHANS[0]).exists()
