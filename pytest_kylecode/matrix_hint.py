"""The hint for a scenario path given to pytest without ``--kylecode-matrix``.

Without the flag the plugin collects no scenario, and pytest would answer a scenario file on the
command line with "found no collectors" (or a scenario directory with "no tests ran"), which says
nothing of the flag. A scenario file given by name, or any scenario file under an argument that
is (or lies inside) the scenario directory, is collected as one ``MatrixHint`` instead, which
fails collection saying how to run it. Only explicit command-line arguments count: a bare
``pytest`` never sees the hint, and nothing here runs for files that are not YAML.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest


class MatrixHint(pytest.File):
    """A scenario file named on the command line of a run without ``--kylecode-matrix``."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        raise self.CollectError(
            f"{self.path} is a scenario file, and scenarios are collected only with --kylecode-matrix: "
            f"run `pytest --kylecode-matrix {_shown(self.path, Path(self.config.invocation_params.dir))}`"
        )


def _shown(path: Path, invocation: Path) -> str:
    try:
        return str(path.relative_to(invocation))
    except ValueError:
        return str(path)


def wants_hint(file_path: Path, config: pytest.Config) -> bool:
    """Whether ``file_path`` (a YAML file) was asked for on the command line as a scenario."""
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return False
    invocation = Path(config.invocation_params.dir)
    scenarios = (config.rootpath / str(config.getini("kylecode_scenarios"))).resolve()
    target = file_path.resolve()
    for arg in config.args:
        given = (invocation / arg.split("::", 1)[0]).resolve()
        if given == target:
            return True
        if given.is_dir() and given.is_relative_to(scenarios) and target.is_relative_to(given):
            from pytest_kylecode.scenarios.files import is_scenario_file

            return is_scenario_file(target, scenarios)
    return False
