"""``kylecode scenarios validate [DIR_OR_FILE...]``: the scenario checks of the plugin, without pytest.

Without a path it validates the project's scenario directory (the ini key ``kylecode_scenarios``
of the project the current directory belongs to).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "check scenario files (the same validation the plugin runs), without running them"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    validate = sub.add_parser(
        "validate",
        help="validate every scenario file under DIR (or the files given; default: the project's scenario directory)",
    )
    validate.add_argument("paths", nargs="*", type=Path, metavar="DIR_OR_FILE")
    sub.add_parser("schema", help="print the JSON Schema of the scenario format (for editors and linters)")


SCHEMA = Path(__file__).resolve().parent.parent / "schema" / "scenario.schema.json"


def run(args: argparse.Namespace) -> int:
    action: str = args.action
    if action == "schema":
        sys.stdout.write(SCHEMA.read_text(encoding="utf-8"))
        return 0
    paths: list[Path] = args.paths
    if not paths:
        from pytest_kylecode.project import find_project

        paths = [find_project().scenarios]
    return _validate(paths)


def _validate(paths: list[Path]) -> int:
    from agent_runtime.errors import ConfigError
    from pytest_kylecode.scenarios.files import ScenarioNames, scenario_files
    from pytest_kylecode.scenarios.matrix import expand, load_scenario

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            try:
                files.extend(scenario_files(path))
            except ConfigError as exc:
                print(f"kylecode scenarios: {exc}", file=sys.stderr)
                return 2
        elif path.is_file():
            files.append(path)
        else:
            print(f"kylecode scenarios: no such file or directory: {path}", file=sys.stderr)
            return 2
    if not files:
        print("kylecode scenarios: no scenario files (*.yaml, *.yml) found", file=sys.stderr)
        return 2
    names = ScenarioNames()
    bad = cells = 0
    for path in files:
        try:
            scenario = load_scenario(path)
            names.register(scenario)
        except ConfigError as exc:
            print(f"INVALID {exc}")
            bad += 1
            continue
        expansion = expand(scenario)
        cells += len(expansion.cells)
        extra = f", {len(expansion.not_applicable)} not applicable" if expansion.not_applicable else ""
        print(f"ok      {path}: {scenario.name}: {len(expansion.cells)} cells{extra}")
    print(f"{len(files) - bad} valid, {bad} invalid scenario files; {cells} cells")
    return 1 if bad else 0
