"""Which files of a scenario tree are scenarios, and one name per scenario file."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_runtime.errors import ConfigError
from pytest_kylecode.scenarios.files import ScenarioNames, is_scenario_file, scenario_files
from pytest_kylecode.scenarios.matrix import load_scenario

SCENARIO = "name: {name}\ntask: go\nscript: [{{text: hi}}]\nmatrix: {{provider: [openai/gpt-4o-mini]}}\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A scenario directory with scenarios, snapshots, hidden files and files of other kinds."""
    root = tmp_path / "scenarios"
    for rel in (
        "b.yaml",
        "a.yml",
        "nested/c.yaml",
        "__snapshots__/b/openai/x.yaml",
        ".hidden/d.yaml",
        "nested/.git/e.yaml",
        "notes.txt",
        "nested/f.json",
    ):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("name: x\n", encoding="utf-8")
    return root


def test_scenario_files_are_the_yaml_files_outside_snapshot_and_hidden_directories(tree: Path) -> None:
    assert [p.relative_to(tree).as_posix() for p in scenario_files(tree)] == ["a.yml", "b.yaml", "nested/c.yaml"]


def test_is_scenario_file_agrees_with_the_walk(tree: Path) -> None:
    every = [p for p in tree.rglob("*") if p.is_file()]
    assert sorted(p for p in every if is_scenario_file(p, tree)) == scenario_files(tree)


def test_a_yaml_file_outside_the_scenario_directory_is_none(tree: Path) -> None:
    outside = tree.parent / "elsewhere.yaml"
    outside.write_text("name: x\n", encoding="utf-8")
    assert not is_scenario_file(outside, tree)
    assert is_scenario_file(tree / "nested" / ".." / "b.yaml", tree)  # judged by where it really is


def test_a_missing_scenario_directory_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"scenario directory '.*nope' does not exist"):
        scenario_files(tmp_path / "nope")


def test_a_name_is_claimed_by_one_file(tmp_path: Path) -> None:
    for file, name in (("first.yaml", "demo"), ("second.yaml", "demo"), ("third.yaml", "other")):
        (tmp_path / file).write_text(SCENARIO.format(name=name), encoding="utf-8")
    names = ScenarioNames()
    names.register(load_scenario(tmp_path / "first.yaml"))
    names.register(load_scenario(tmp_path / "first.yaml"))  # the same file again: no conflict
    names.register(load_scenario(tmp_path / "third.yaml"))
    with pytest.raises(ConfigError) as info:
        names.register(load_scenario(tmp_path / "second.yaml"))
    assert f"scenario name 'demo' is already used by {tmp_path / 'first.yaml'}" in str(info.value)
    assert (info.value.where, info.value.key) == (f"{tmp_path / 'second.yaml'}:1", "name")
