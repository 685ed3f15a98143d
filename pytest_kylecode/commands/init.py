"""``kylecode init [DIR] [--force]``: the plugin set up in a project of one's own.

Writes a starter scenario (``scenarios/starter.yaml``), the two GitHub workflows
(``.github/workflows/kylecode-matrix.yml``, the pull-request gate, and ``kylecode-rerecord.yml``,
the scheduled or dispatched re-record; ``pytest_kylecode.templates``) and, where they are not set
yet, the ini keys ``kylecode_scenarios`` and ``kylecode_cassettes`` (into the project's pytest
configuration file, or a new ``pytest.ini``). An existing scenario or workflow is never replaced
without ``--force``: then nothing is written at all. Every file is written to a temporary name
and renamed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "set a project up: a starter scenario, its pytest ini keys and two GitHub workflows (gate and re-record)"

INI_KEYS = ("kylecode_scenarios", "kylecode_cassettes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "directory", nargs="?", type=Path, default=Path("."), metavar="DIR", help="the project (default: here)"
    )
    parser.add_argument("--force", action="store_true", help="replace a scenario or workflow that already exists")


def run(args: argparse.Namespace) -> int:
    from pytest_kylecode import templates
    from pytest_kylecode.report.files import write_atomic

    root: Path = args.directory
    force: bool = args.force
    if not root.is_dir():
        print(f"kylecode init: error: {root} is not a directory", file=sys.stderr)
        return 2
    profile = templates.USER
    files = {
        Path(profile.scenarios) / "starter.yaml": templates.starter_scenario("starter"),
        Path(".github/workflows") / profile.gate_file: templates.render("matrix.yml", profile),
        Path(".github/workflows/kylecode-rerecord.yml"): templates.render("rerecord.yml", profile),
    }
    existing = [path for path in files if (root / path).exists()]
    if existing and not force:
        for path in existing:
            print(f"kylecode init: {path} exists; nothing was written (--force replaces it)", file=sys.stderr)
        return 1
    ini_path, ini_text = _ini(root, {"kylecode_scenarios": profile.scenarios, "kylecode_cassettes": profile.cassettes})
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        write_atomic(root / path, text)
        print(f"wrote {path}")
    if ini_text is not None:
        write_atomic(root / ini_path, ini_text)
        print(f"set {', '.join(INI_KEYS)} in {ini_path}")
    print(
        "next: pytest --kylecode-matrix --kylecode-record=once --snapshot-update (record), then "
        "pytest --kylecode-matrix -n auto (replay, as the gate does); commit scenarios/ and cassettes/"
    )
    return 0


# The pytest configuration files whose section ``init`` adds keys to, and the section's header.
_HEADERS = {
    "pytest.ini": "[pytest]",
    ".pytest.ini": "[pytest]",
    "pytest.toml": "[pytest]",
    ".pytest.toml": "[pytest]",
    "tox.ini": "[pytest]",
    "setup.cfg": "[tool:pytest]",
}


def _ini(root: Path, wanted: dict[str, str]) -> tuple[Path, str | None]:
    """The configuration file to set the keys in and its new text (``None``: all are set)."""
    from pytest_kylecode.project import find_project

    project = find_project(root)
    if project.inifile is None or project.root != root.resolve():
        body = "".join(f"{key} = {value}\n" for key, value in wanted.items())
        return Path("pytest.ini"), "[pytest]\n" + body
    inifile = project.inifile
    missing = {key: value for key, value in wanted.items() if key not in project.ini}
    if not missing:
        return Path(inifile.name), None
    toml = inifile.suffix == ".toml"
    lines = "".join(f'{key} = "{value}"\n' if toml else f"{key} = {value}\n" for key, value in missing.items())
    text = inifile.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    if inifile.name == "pyproject.toml":
        headers = ["[tool.pytest.ini_options]", "[tool.pytest]"]
    else:
        headers = [_HEADERS[inifile.name]]
    for header in headers:
        at = _header_line_end(text, header)
        if at is not None:
            return Path(inifile.name), text[:at] + lines + text[at:]
    # A pyproject.toml without a pytest table (the project root only because it exists).
    return Path(inifile.name), text + "\n[tool.pytest.ini_options]\n" + lines


def _header_line_end(text: str, header: str) -> int | None:
    """The offset just after the line ``header`` (a section header on a line of its own)."""
    offset = 0
    for line in text.splitlines(keepends=True):
        offset += len(line)
        if line.strip() == header:
            return offset
    return None
