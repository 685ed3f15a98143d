"""Scenario files become pytest collectors; cells become real ``pytest.Function`` items.

``ScenarioModule`` is a ``pytest.Module`` over a synthetic module object, so
module-scoped fixtures, conftest fixtures, syrupy's ``snapshot`` and
``tmp_path`` all work for cells. Each ``CellItem`` carries a ``CallSpec`` whose
id is the cell id: without it pytest would give every cell the same node id.
A scenario that does not validate becomes one failing ``ScenarioErrorItem``
naming file:line and key, never a collection error that would stop the session.
"""

from __future__ import annotations

import os
import shutil
import types
from typing import TYPE_CHECKING

import pytest
from _pytest._code.code import TerminalRepr, TracebackStyle
from _pytest.python import CallSpec, FunctionDefinition

from agent_runtime.errors import ConfigError
from agent_runtime.observe.redact import redact_text
from pytest_kylecode.stash import CELL, NAMES, RUNNER

if TYPE_CHECKING:
    from pytest_kylecode.scenarios.scenario import Cell, Scenario


def kylecode_cell(request: pytest.FixtureRequest) -> None:
    """Run one matrix cell (the test function behind every CellItem)."""
    request.config.stash[RUNNER].run(request.node, request)


class ScenarioModule(pytest.Module):
    def _getobj(self) -> types.ModuleType:
        module = types.ModuleType(self.path.stem)
        module.__file__ = str(self.path)
        module.__dict__[kylecode_cell.__name__] = kylecode_cell
        return module

    def collect(self) -> list[pytest.Item]:
        from pytest_kylecode.scenarios.matrix import expand, load_scenario

        try:
            scenario = load_scenario(self.path)
            self.config.stash[NAMES].register(scenario)
        except ConfigError as exc:
            return [ScenarioErrorItem.from_parent(self, name=f"{self.path.name}::invalid", message=str(exc))]
        expansion = expand(scenario)
        # One fixture closure for all the cells, worked out as pytest does for a function of a
        # module: on the function's definition node.
        definition = FunctionDefinition.from_parent(self, name=scenario.name, callobj=kylecode_cell)
        fixtureinfo = definition._fixtureinfo
        missing = missing_commands(scenario)
        items: list[pytest.Item] = []
        for cell in expansion.cells:
            item = CellItem.from_parent(
                self,
                name=f"{scenario.name}[{cell.id}]",
                originalname=scenario.name,
                callspec=CallSpec(_idlist=(cell.id,)),
                callobj=kylecode_cell,
                fixtureinfo=fixtureinfo,
            )
            item.stash[CELL] = cell
            # Travels with every report, to the xdist controller too: the report's row key.
            item.user_properties.append(("kylecode_cell", cell.report_key()))
            for mark in cell_marks(cell, missing):
                item.add_marker(mark)
            items.append(item)
        return items


def missing_commands(scenario: Scenario) -> list[str]:
    """The entries of the scenario's ``requires`` that are missing (its cells then skip): commands
    not on PATH, and paths (an entry with a ``/``, relative to the scenario file's directory, such
    as a program's installed packages) that do not exist."""
    return [
        entry
        for entry in scenario.requires
        if not ((scenario.path.parent / entry).exists() if "/" in entry else shutil.which(entry))
    ]


def cell_marks(cell: Cell, missing: list[str]) -> list[pytest.MarkDecorator]:
    """Skip for missing commands first, then the cell's own ``skip`` or ``xfail`` override."""
    if missing:
        commands = ", ".join(entry for entry in missing if "/" not in entry)
        paths = ", ".join(entry for entry in missing if "/" in entry)
        reasons = [f"{commands} (not found on PATH)"] if commands else []
        reasons += [f"{paths} (not found beside the scenario)"] if paths else []
        return [pytest.mark.skip(reason=f"requires {'; '.join(reasons)}")]
    if cell.skip:
        return [pytest.mark.skip(reason=cell.skip)]
    if cell.xfail:
        return [pytest.mark.xfail(reason=cell.xfail, strict=False)]
    return []


class CellItem(pytest.Function):
    """One matrix cell; its ``Cell`` is in the stash (``stash.CELL``), put there at collection."""

    @property
    def cell(self) -> Cell:
        return self.stash[CELL]

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        """``style`` is ignored, as ``pytest.Function`` ignores it (``--tb`` decides)."""
        from pytest_kylecode.failures import CellFailure

        # Expectation and replay failures carry their own readable report; a traceback adds nothing.
        if isinstance(excinfo.value, CellFailure):
            # The report quotes what the run did (a loop guard quotes the call, an expectation the
            # file's content, a replay miss the request): it goes to terminals, report.md and CI
            # summaries, so it is redacted like every other artifact.
            return redact_text(str(excinfo.value))
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        # A line is required: pytest reports skips (e.g. a missing `requires` command) at the item's location.
        return self.path, 0, f"{self.cell.scenario.name}[{self.cell.id}]"


class InvalidScenario(Exception):
    pass


class ScenarioErrorItem(pytest.Item):
    """Stands in for a scenario file that does not validate: fails with the message, no traceback."""

    def __init__(self, name: str, parent: pytest.Collector, *, message: str) -> None:
        super().__init__(name, parent)
        self.message = message

    def runtest(self) -> None:
        raise InvalidScenario(self.message)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        return redact_text(f"invalid scenario: {self.message}")

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self.path, 0, f"{self.path.name}: invalid scenario"
