"""pytest entry point of pytest-kylecode: hooks and fixtures only.

Without ``--kylecode-matrix`` the plugin only registers its options, the
``kylecode_scenario`` marker and the ``kylecode_cell`` fixture: no session is
created, nothing heavy is imported and no other hook does any work for a test
that does not use them. With it, ``pytest_configure`` creates the
``KylecodeSession`` (kept in ``config.stash`` and registered as a plugin object
so its own hooks run), and scenario files under the scenario directory are
collected as matrix modules. A test marked ``kylecode_scenario`` runs once per
cell, its body as the cell's agent (``byo.fixture``), with or without the flag.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_kylecode.options import FIXTURE, MARKER, MARKER_HELP, add_options


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_HELP)
    if config.getoption("kylecode_matrix", False):
        from pytest_kylecode.session import KylecodeSession

        KylecodeSession.start(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if not parent.config.getoption("kylecode_matrix", False):
        from pytest_kylecode.matrix_hint import MatrixHint, wants_hint

        return MatrixHint.from_parent(parent, path=file_path) if wants_hint(file_path, parent.config) else None
    from pytest_kylecode.session import get_session

    if not get_session(parent.config).is_scenario_file(file_path):
        return None
    from pytest_kylecode.collect import ScenarioModule

    return ScenarioModule.from_parent(parent, path=file_path)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is not None:
        from pytest_kylecode.byo.fixture import parametrize

        parametrize(metafunc, marker)


@pytest.fixture
def kylecode_cell(request: pytest.FixtureRequest) -> object:
    """The ``CellContext`` of a test marked ``@pytest.mark.kylecode_scenario(path)`` (docs/byo-agent.md)."""
    from pytest_kylecode.byo.fixture import cell_context

    return cell_context(request)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if FIXTURE not in pyfuncitem.funcargs:
        return None
    from pytest_kylecode.byo.fixture import run_test_cell

    return run_test_cell(pyfuncitem)
