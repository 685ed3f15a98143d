"""The fixture way in: a test parametrized over a scenario's cells drives its own agent.

::

    @pytest.mark.kylecode_scenario("scenarios/my_task.yaml")
    def test_my_agent(kylecode_cell):
        report = my_agent(kylecode_cell)            # uses kylecode_cell's clients, workspace, task
        kylecode_cell.report(report)

``parametrize`` (from ``pytest_generate_tests``) makes one test per cell, with the cell id
as parameter id; ``cell_context`` (the ``kylecode_cell`` fixture) gives the test its
``CellContext``; ``run_test_cell`` (from ``pytest_pyfunc_call``) runs the test body *as
the agent* of a matrix cell: inside the cell's stack, time limit, cassette checks,
expectations and metrics snapshot, exactly as a factory agent. The test body must be a
plain (sync) function; an async agent is driven with ``asyncio.run`` inside it.

The scenario path is relative to the test file's directory (then to the rootdir). Cells
run with or without ``--kylecode-matrix``; the record mode, cassette directory and runs
directory come from the same options and ini keys as the matrix. Snapshots live beside
the test file, in ``__snapshots__/<scenario>/<cell id>.json``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from agent_runtime.errors import ConfigError
from pytest_kylecode.byo.context import CellContext
from pytest_kylecode.options import FIXTURE, MARKER
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.stash import CELL, RUNNER, RunsCells

__all__ = ["cell_context", "parametrize", "run_test_cell"]


@dataclass(frozen=True, slots=True)
class _Invalid:
    message: str


@dataclass(frozen=True, slots=True)
class _FixtureCell:
    """What the fixture leaves for ``run_test_cell``: the test's context and its fixture request."""

    context: CellContext
    request: pytest.FixtureRequest


_FIXTURE = pytest.StashKey[_FixtureCell]()


def parametrize(metafunc: pytest.Metafunc, marker: pytest.Mark) -> None:
    """One parameter of the ``kylecode_cell`` fixture per cell of the marker's scenario."""
    from pytest_kylecode.scenarios.matrix import expand, load_scenario

    # A misused marker is an error in the test module, reported as pytest's own parametrize reports one.
    where = f"In {metafunc.definition.name}: @pytest.mark.{MARKER}"
    if len(marker.args) != 1 or marker.kwargs or not isinstance(marker.args[0], (str, Path)):
        pytest.fail(
            f"{where} takes one argument, the scenario file's path; got args={marker.args!r} kwargs={marker.kwargs!r}",
            pytrace=False,
        )
    if FIXTURE not in metafunc.fixturenames:
        pytest.fail(f"{where} needs the test to take the `{FIXTURE}` fixture", pytrace=False)
    path = _scenario_path(Path(marker.args[0]), metafunc)
    try:
        scenario = load_scenario(path)
    except ConfigError as exc:
        metafunc.parametrize(
            FIXTURE, [pytest.param(_Invalid(f"invalid scenario: {exc}"), id="invalid-scenario")], indirect=True
        )
        return
    except OSError as exc:
        message = f"invalid scenario: {path}: cannot read it ({exc.strerror or exc})"
        metafunc.parametrize(FIXTURE, [pytest.param(_Invalid(message), id="invalid-scenario")], indirect=True)
        return
    from pytest_kylecode.collect import cell_marks, missing_commands
    from pytest_kylecode.snapshot import claim_snapshot_site

    claim_snapshot_site(metafunc.config, metafunc.definition)
    missing = missing_commands(scenario)
    params = [pytest.param(cell, id=cell.id, marks=cell_marks(cell, missing)) for cell in expand(scenario).cells]
    metafunc.parametrize(FIXTURE, params, indirect=True)


def _scenario_path(path: Path, metafunc: pytest.Metafunc) -> Path:
    if path.is_absolute():
        return path
    beside = Path(metafunc.definition.path).parent / path
    if beside.exists():
        return beside
    rooted = Path(metafunc.config.rootpath) / path
    return rooted if rooted.exists() else beside


def cell_context(request: pytest.FixtureRequest) -> CellContext:
    """The ``kylecode_cell`` fixture: the test's cell, live while the test body runs."""
    cell: object = getattr(request, "param", None)  # what parametrize gave: a cell, or why there is none
    if isinstance(cell, _Invalid):
        pytest.fail(cell.message, pytrace=False)
    if not isinstance(cell, Cell):
        pytest.fail(
            f"the `{FIXTURE}` fixture needs @pytest.mark.{MARKER}('path/to/scenario.yaml') on the test", pytrace=False
        )
    context = CellContext(cell, cell.agent_config())
    # The test body runs as the cell's agent (run_test_cell); the snapshot is taken through this
    # request at its end, and the cell runner and snapshot extension read the item's cell.
    request.node.stash[_FIXTURE] = _FixtureCell(context, request)
    request.node.stash[CELL] = cell
    request.node.user_properties.append(("kylecode_cell", cell.report_key()))
    return context


def run_test_cell(item: pytest.Function) -> bool | None:
    """Run ``item``'s body as the agent of its cell; ``None`` when the item is no cell test."""
    from _pytest.python import pytest_pyfunc_call as call_test_function

    from pytest_kylecode.byo.driver import PreparedAgent
    from pytest_kylecode.failures import CellFailure

    fixture = item.stash.get(_FIXTURE, None)
    if fixture is None:
        return None

    def body(_: CellContext) -> None:
        call_test_function(item)  # the report comes through kylecode_cell.report(...)

    agent = PreparedAgent(fixture.context, body)
    try:
        _runner(item.config).run(item, fixture.request, agent)
    except CellFailure as exc:
        failure = str(exc)
    else:
        return True
    pytest.fail(failure, pytrace=False)  # outside the handler: the report alone, no chained traceback


def _runner(config: pytest.Config) -> RunsCells:
    """The matrix session's runner under ``--kylecode-matrix``; without it, one cell runner for the
    session, its settings from the same options and ini keys."""
    runner = config.stash.get(RUNNER, None)
    if runner is None:
        from pytest_kylecode.cell.runner import CellRunner
        from pytest_kylecode.options import resolve_settings

        cells = CellRunner(resolve_settings(config), config)
        config.add_cleanup(cells.close)
        runner = config.stash[RUNNER] = cells
    return runner
