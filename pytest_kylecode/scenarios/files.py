"""Which files are scenarios, and the one-name-one-file rule: each written once, used by the plugin's
collection, ``kylecode scenarios validate``, ``kylecode cassettes check`` and the report.

A scenario file is a ``*.yaml`` / ``*.yml`` file under the scenario directory, outside hidden
directories and directories starting with ``__`` (``__snapshots__`` holds the metrics snapshots).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from agent_runtime.errors import ConfigError
from pytest_kylecode.scenarios.scenario import Scenario

__all__ = ["ScenarioNames", "holds_no_scenarios", "is_scenario_file", "scenario_files"]

SUFFIXES = (".yaml", ".yml")


def holds_no_scenarios(directory_name: str) -> bool:
    """A directory of the scenario tree that is never searched (snapshots, hidden directories)."""
    return directory_name.startswith((".", "__"))


def _inside(relative_dirs: Iterable[str]) -> bool:
    return not any(holds_no_scenarios(part) for part in relative_dirs)


def is_scenario_file(path: Path, root: Path) -> bool:
    """Whether ``path`` is a scenario file of the scenario directory ``root``."""
    if path.suffix not in SUFFIXES:
        return False
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return _inside(relative.parts[:-1])


def scenario_files(directory: Path) -> list[Path]:
    """The scenario files under ``directory``, sorted; a ConfigError when it does not exist."""
    if not directory.is_dir():
        raise ConfigError(f"scenario directory {str(directory)!r} does not exist")
    files = [
        p for suffix in SUFFIXES for p in directory.rglob(f"*{suffix}") if _inside(p.relative_to(directory).parts[:-1])
    ]
    return sorted(files)


class ScenarioNames:
    """Scenario names are unique across the files of one run: a name names its cassettes and snapshots."""

    def __init__(self) -> None:
        self._paths: dict[str, Path] = {}

    def register(self, scenario: Scenario) -> None:
        """Claim ``scenario.name`` for its file; a ConfigError naming both files when it is taken."""
        other = self._paths.setdefault(scenario.name, scenario.path)
        if other != scenario.path:
            raise ConfigError(
                f"scenario name {scenario.name!r} is already used by {other}; names must be unique "
                "(set a different 'name:' in one of the files)",
                where=f"{scenario.path}:1",
                key="name",
            )
