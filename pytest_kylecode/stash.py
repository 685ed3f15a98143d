"""What the plugin's parts hand each other through pytest's stash, typed and named in one place.

The session (``session.KylecodeSession``) sits on top and wires the parts; collectors, the
snapshot extension and the ``kylecode_cell`` fixture find what they need here instead of
importing the session:

- ``CELL`` on an item: its matrix cell (a matrix item's, or a ``kylecode_cell`` test's);
- ``NAMES`` on the config: the scenario names claimed so far in this run;
- ``RUNNER`` on the config: what runs a cell (the matrix session, or the fixture's own runner).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import pytest

if TYPE_CHECKING:
    from pytest_kylecode.byo.driver import PreparedAgent
    from pytest_kylecode.scenarios.files import ScenarioNames
    from pytest_kylecode.scenarios.scenario import Cell

__all__ = ["CELL", "NAMES", "RUNNER", "RunsCells"]


class RunsCells(Protocol):
    def run(self, item: pytest.Item, request: pytest.FixtureRequest, agent: PreparedAgent | None = None) -> None:
        """Run ``item``'s cell (``agent``: the test body of a ``kylecode_cell`` test)."""


CELL: pytest.StashKey[Cell] = pytest.StashKey()
NAMES: pytest.StashKey[ScenarioNames] = pytest.StashKey()
RUNNER: pytest.StashKey[RunsCells] = pytest.StashKey()
