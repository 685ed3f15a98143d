"""``project.find_project``: the root pytest would pick, from any subdirectory, and the ini directories there."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_kylecode.project import ProjectError, find_project


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("pytest.ini", "[pytest]\nkylecode_scenarios = specs\n"),
        ("pyproject.toml", '[tool.pytest.ini_options]\nkylecode_scenarios = "specs"\n'),
        ("pyproject.toml", '[tool.pytest]\nkylecode_scenarios = "specs"\n'),
        ("pytest.toml", '[pytest]\nkylecode_scenarios = "specs"\n'),
        ("tox.ini", "[pytest]\nkylecode_scenarios = specs\n"),
        ("setup.cfg", "[tool:pytest]\nkylecode_scenarios = specs\n"),
    ],
)
def test_each_configuration_file_makes_the_root_seen_from_below(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    deep = tmp_path / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    project = find_project()
    assert project.root == tmp_path.resolve()
    assert project.inifile == tmp_path.resolve() / name
    assert project.scenarios == tmp_path.resolve() / "specs"  # above the current directory: absolute
    assert project.cassettes == tmp_path.resolve() / "cassettes"  # not set: the default


def test_a_file_without_a_pytest_section_does_not_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nkylecode_cassettes = tapes\n", encoding="utf-8")
    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / "tox.ini").write_text("[tox]\nenvlist = py311\n", encoding="utf-8")
    (inner / "setup.cfg").write_text("[metadata]\nname = x\n", encoding="utf-8")
    monkeypatch.chdir(inner)
    project = find_project()
    assert project.root == tmp_path.resolve()
    assert project.cassettes == tmp_path.resolve() / "tapes"


def test_pytest_ini_wins_over_pyproject_in_one_directory_and_paths_below_are_short(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\nkylecode_runs = "a"\n', encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\nkylecode_runs = b\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert find_project().runs == Path("b")  # under the current directory: relative, as printed


def test_a_pyproject_without_pytest_settings_is_the_fallback_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    project = find_project()
    assert (project.root, project.ini) == (tmp_path.resolve(), {})
    assert project.scenarios == tmp_path.resolve() / "scenarios"


def test_a_broken_configuration_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest\n", encoding="utf-8")
    with pytest.raises(ProjectError, match=r"pyproject\.toml: cannot read it as TOML"):
        find_project(tmp_path)
