"""pytest entry point of pytest-kylecode: hooks and fixtures only.

Without ``--kylecode-matrix`` the plugin only registers its options: no session
is created, nothing heavy is imported and no other hook does any work. With it,
``pytest_configure`` creates the ``KylecodeSession`` (kept in ``config.stash``
and registered as a plugin object so its own hooks run), and scenario files
under the scenario directory are collected as matrix modules.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .options import add_options


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("kylecode_matrix", False):
        from .session import KylecodeSession

        KylecodeSession.start(config)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml") or not parent.config.getoption("kylecode_matrix", False):
        return None
    from .session import get_session

    if not get_session(parent.config).is_scenario_file(file_path):
        return None
    from .collect import ScenarioModule

    return ScenarioModule.from_parent(parent, path=file_path)
