"""Orphan snapshots: which files of a scenario tree no cell takes, and what is never judged."""

from __future__ import annotations

from pathlib import Path

from pytest_kylecode import orphans
from pytest_kylecode.orphans import Census

CELL = "openai/gpt-4o-mini-stream-native-none"


def touch(root: Path, *relpaths: str) -> None:
    for relpath in relpaths:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}\n", encoding="utf-8")


def census_of(*scenarios: tuple[str, str, bool, set[str]]) -> Census:
    census = Census()
    for relpath, name, snapshot, cells in scenarios:
        census.cells_of(relpath, name, snapshot).update(cells)
    return census


def found(tree: orphans.ScenarioTree, census: Census) -> list[str]:
    return [snap.relpath() for snap in orphans.find(tree, census)]


def test_walk_finds_scenario_files_and_cell_shaped_snapshots_only(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "a.yaml",
        "sub/b.yml",
        ".hidden/c.yaml",
        "__pycache__/d.yaml",
        "sub/__data__/e.yaml",
        f"__snapshots__/a/{CELL}.json",
        f"sub/__snapshots__/b/{CELL}.json",
        "__snapshots__/test_other.ambr",
        "__snapshots__/test_other/case.json",  # syrupy's other layouts
        f"__snapshots__/a/.{CELL}.json.123.tmp",
        f"__snapshots__/.cache/x/{CELL}.json",
    )
    tree = orphans.walk(tmp_path)
    assert tree.scenario_files == ["a.yaml", "sub/b.yml"]
    assert [s.relpath() for s in tree.snapshots] == [f"__snapshots__/a/{CELL}.json", f"sub/__snapshots__/b/{CELL}.json"]
    assert tree.snapshots[1].site == "sub" and tree.snapshots[1].scenario == "b" and tree.snapshots[1].cell_id == CELL


def test_a_missing_cell_a_missing_scenario_and_a_moved_one_are_orphans(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "a.yaml",
        "sub/b.yaml",
        "quiet.yaml",
        f"__snapshots__/a/{CELL}.json",  # a live cell
        "__snapshots__/a/openai/gpt-4o-mini-nostream-native-none.json",  # an axis value gone
        f"__snapshots__/gone/{CELL}.json",  # a scenario gone
        f"__snapshots__/b/{CELL}.json",  # b moved to sub/: its snapshots there now
        f"sub/__snapshots__/b/{CELL}.json",
        f"__snapshots__/quiet/{CELL}.json",
    )  # quiet takes no snapshot any more
    census = census_of(
        ("a.yaml", "a", True, {CELL}), ("sub/b.yaml", "b", True, {CELL}), ("quiet.yaml", "quiet", False, {CELL})
    )
    assert found(orphans.walk(tmp_path), census) == [
        "__snapshots__/a/openai/gpt-4o-mini-nostream-native-none.json",
        f"__snapshots__/b/{CELL}.json",
        f"__snapshots__/gone/{CELL}.json",
        f"__snapshots__/quiet/{CELL}.json",
    ]


def test_unknown_names_are_not_judged_without_every_scenario_known(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "a.yaml",
        "broken.yaml",
        f"__snapshots__/a/{CELL}.json",
        "__snapshots__/a/x/y-none.json",
        f"__snapshots__/broken/{CELL}.json",
    )
    tree = orphans.walk(tmp_path)
    census = census_of(("a.yaml", "a", True, {CELL}))
    census.add_invalid("broken.yaml")
    assert not census.covers(tree)
    assert found(tree, census) == ["__snapshots__/a/x/y-none.json"]  # a's are still told
    # A scenario file that was not loaded at all (a session given paths) is the same case.
    assert found(tree, census_of(("a.yaml", "a", True, {CELL}))) == ["__snapshots__/a/x/y-none.json"]


def test_a_directory_with_test_modules_keeps_its_unknown_names(tmp_path: Path) -> None:
    # A kylecode_cell test's snapshots have the same shape: __snapshots__/<test function>/<cell id>.json
    touch(
        tmp_path,
        "a.yaml",
        "test_agent.py",
        f"__snapshots__/test_my_agent/{CELL}.json",
        "__snapshots__/a/x/y-none.json",
    )
    assert found(orphans.walk(tmp_path), census_of(("a.yaml", "a", True, {CELL}))) == ["__snapshots__/a/x/y-none.json"]


def test_delete_removes_the_files_and_the_directories_they_leave_empty(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "a.yaml",
        f"__snapshots__/a/{CELL}.json",
        f"__snapshots__/gone/{CELL}.json",
        "__snapshots__/gone/zai/glm-4.6-stream-native-none.json",
        "__snapshots__/a/zai/glm-4.6-stream-native-none.json",
    )
    tree = orphans.walk(tmp_path)
    removed = orphans.delete(tmp_path, orphans.find(tree, census_of(("a.yaml", "a", True, {CELL}))))
    assert len(removed) == 3
    assert not (tmp_path / "__snapshots__/gone").exists() and not (tmp_path / "__snapshots__/a/zai").exists()
    assert (tmp_path / f"__snapshots__/a/{CELL}.json").is_file()
    assert orphans.delete(tmp_path, orphans.find(tree, census_of(("a.yaml", "a", True, {CELL})))) == []


def test_a_census_travels_as_bytes(tmp_path: Path) -> None:
    census = census_of(("a.yaml", "a", True, {CELL, "x/y-none"}), ("q.yaml", "q", False, set()))
    census.add_invalid("broken.yaml")
    census.nodeids.append("scenarios/a.yaml::a[x/y-none]")
    again = Census.from_bytes(census.to_bytes())
    assert again == census
