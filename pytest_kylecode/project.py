"""The project a ``kylecode`` command works on: its root and the plugin's ini keys there.

The root is found the way pytest finds its rootdir: from the current directory upward, the first
directory holding a configuration file with a pytest section (``pytest.toml``, ``.pytest.toml``,
``pytest.ini``, ``.pytest.ini`` — these count even when empty —, ``pyproject.toml`` with
``[tool.pytest]`` or ``[tool.pytest.ini_options]``, ``tox.ini`` with ``[pytest]``, ``setup.cfg``
with ``[tool:pytest]``); failing that, the nearest ``pyproject.toml``; failing that, the current
directory. The ini paths (``kylecode_scenarios``...) are relative to the root, as in the plugin,
so a command run from any subdirectory finds the same scenarios and cassettes as ``pytest``.
"""

from __future__ import annotations

import configparser
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

# The plugin's ini keys that name directories, and their defaults (``options.add_options``
# registers them with pytest from here).
INI_DEFAULTS: Final[Mapping[str, str]] = {
    "kylecode_scenarios": "scenarios",
    "kylecode_cassettes": "cassettes",
    "kylecode_runs": ".kylecode/runs",
}


class ProjectError(Exception):
    """A configuration file that cannot be read; the message names the file."""


@dataclass(frozen=True, slots=True)
class Project:
    root: Path
    inifile: Path | None
    ini: Mapping[str, str] = field(default_factory=dict)

    def directory(self, key: str) -> Path:
        """The directory an ini key names (its default when the key is not set), under the root;
        relative to the current directory when it lies below it, so that what a command prints
        stays short (``cassettes/x.yaml``, not the whole path)."""
        value = Path(self.ini.get(key) or INI_DEFAULTS[key]).expanduser()
        path = value if value.is_absolute() else self.root / value
        try:
            return path.relative_to(Path.cwd().resolve())
        except ValueError:
            return path

    @property
    def scenarios(self) -> Path:
        return self.directory("kylecode_scenarios")

    @property
    def cassettes(self) -> Path:
        return self.directory("kylecode_cassettes")

    @property
    def runs(self) -> Path:
        return self.directory("kylecode_runs")


def _one_line(exc: Exception) -> str:
    """The parser's message on one line (configparser's span several, quoting the file)."""
    return " ".join(str(exc).split())


def _toml(path: Path) -> dict[str, object]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{path}: cannot read it as TOML ({_one_line(exc)})") from None


def _strings(table: object) -> dict[str, str] | None:
    if not isinstance(table, dict):
        return None
    return {str(key): str(value) for key, value in table.items()}


def _pytest_toml(path: Path) -> dict[str, str] | None:
    return _strings(_toml(path).get("pytest")) or {}


def _pyproject(path: Path) -> dict[str, str] | None:
    tool = _toml(path).get("tool")
    pytest_table = tool.get("pytest") if isinstance(tool, dict) else None
    if not isinstance(pytest_table, dict):
        return None
    ini_options = pytest_table.get("ini_options")
    native = {key: value for key, value in pytest_table.items() if key != "ini_options"}
    return (_strings(ini_options) or {}) | (_strings(native) or {})


def _ini_section(section: str, *, always: bool) -> Callable[[Path], dict[str, str] | None]:
    def load(path: Path) -> dict[str, str] | None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
        except (OSError, UnicodeDecodeError, configparser.Error) as exc:
            raise ProjectError(f"{path}: cannot read it as an ini file ({_one_line(exc)})") from None
        if parser.has_section(section):
            return dict(parser.items(section))
        return {} if always else None

    return load


# The files pytest takes its configuration from, in its order of precedence within one directory.
_LOADERS: Final[dict[str, Callable[[Path], dict[str, str] | None]]] = {
    "pytest.toml": _pytest_toml,
    ".pytest.toml": _pytest_toml,
    "pytest.ini": _ini_section("pytest", always=True),
    ".pytest.ini": _ini_section("pytest", always=True),
    "pyproject.toml": _pyproject,
    "tox.ini": _ini_section("pytest", always=False),
    "setup.cfg": _ini_section("tool:pytest", always=False),
}


def find_project(start: Path | None = None) -> Project:
    """The project holding ``start`` (default: the current directory); ``ProjectError`` for a
    configuration file that cannot be read."""
    here = (start or Path.cwd()).resolve()
    first_pyproject: Path | None = None
    for base in (here, *here.parents):
        for name, loader in _LOADERS.items():
            candidate = base / name
            if not candidate.is_file():
                continue
            if name == "pyproject.toml" and first_pyproject is None:
                first_pyproject = candidate
            ini = loader(candidate)
            if ini is not None:
                return Project(base, candidate, ini)
    if first_pyproject is not None:
        return Project(first_pyproject.parent, first_pyproject)
    return Project(here, None)
