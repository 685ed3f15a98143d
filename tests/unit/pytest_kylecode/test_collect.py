"""What collection decides for a cell without a session: the marks that skip or xfail it.

(The collectors themselves, scenario file to items, run in real sessions: tests/integration/test_matrix_collection.py.)
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pytest_kylecode.collect import cell_marks, missing_commands
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.scenarios.scenario import Cell

SCENARIO = """
name: marks
task: go
requires: [sh, no-such-command-of-the-collect-tests]
script: [{text: hi}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]
  streaming: [false]
overrides:
  - when: {provider: anthropic/*}
    skip: not today
  - when: {provider: openai-responses/*}
    xfail: known to differ
"""


@pytest.fixture
def cells(tmp_path: Path) -> dict[str, Cell]:
    path = tmp_path / "marks.yaml"
    path.write_text(textwrap.dedent(SCENARIO).lstrip(), encoding="utf-8")
    return {cell.provider.split("/")[0]: cell for cell in expand(load_scenario(path)).cells}


def test_missing_commands_are_those_not_on_path(cells: dict[str, Cell]) -> None:
    assert missing_commands(cells["openai"].scenario) == ["no-such-command-of-the-collect-tests"]


def test_a_missing_command_skips_every_cell_first(cells: dict[str, Cell]) -> None:
    for cell in cells.values():
        [mark] = cell_marks(cell, ["no-such-command-of-the-collect-tests"])
        assert mark.mark.name == "skip"
        assert mark.mark.kwargs == {"reason": "requires no-such-command-of-the-collect-tests (not found on PATH)"}


def test_an_override_skips_or_xfails_its_cells(cells: dict[str, Cell]) -> None:
    assert cell_marks(cells["openai"], []) == []
    [skip] = cell_marks(cells["anthropic"], [])
    assert (skip.mark.name, skip.mark.kwargs) == ("skip", {"reason": "not today"})
    [xfail] = cell_marks(cells["openai-responses"], [])
    assert (xfail.mark.name, xfail.mark.kwargs) == ("xfail", {"reason": "known to differ", "strict": False})


def test_a_requires_entry_with_a_slash_is_a_path_beside_the_scenario(tmp_path: Path) -> None:
    text = SCENARIO.replace("requires: [sh, no-such-command-of-the-collect-tests]", "requires: [sh, deps/pkg, ./here]")
    path = tmp_path / "marks.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    (tmp_path / "here").mkdir()
    cell = expand(load_scenario(path)).cells[0]
    assert missing_commands(cell.scenario) == ["deps/pkg"]
    [mark] = cell_marks(cell, ["nope", "deps/pkg"])
    assert mark.mark.kwargs == {"reason": "requires nope (not found on PATH); deps/pkg (not found beside the scenario)"}
    (tmp_path / "deps" / "pkg").mkdir(parents=True)
    assert missing_commands(cell.scenario) == []
