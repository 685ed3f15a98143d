"""``kylecode cassettes check``: orphan cassettes, cells without cassettes, unplayed interactions.

Every valid cell is replayed from its cassette (record mode ``none``, the
cell's fault injected, on a virtual clock), exactly as the matrix would, so
interactions that the runtime no longer requests show up here too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "check cassettes against the scenarios: orphans, cells without cassettes, stale or unplayed ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="compare the cassette tree with the cells of the scenarios")
    check.add_argument("--scenarios", type=Path, default=Path("scenarios"), metavar="DIR",
                       help="scenario directory (default: scenarios)")
    check.add_argument("--cassettes", type=Path, default=Path("cassettes"), metavar="DIR",
                       help="cassette directory (default: cassettes)")
    check.add_argument("--no-replay", action="store_true",
                       help="only compare file trees; do not replay cells to find unplayed interactions")


def run(args: argparse.Namespace) -> int:
    from agent_runtime.errors import ConfigError

    from pytest_kylecode.scenarios.files import scenario_files
    from pytest_kylecode.scenarios.matrix import expand, load_scenario

    try:
        files = scenario_files(args.scenarios)
    except ConfigError as exc:
        print(f"kylecode cassettes: {exc}", file=sys.stderr)
        return 2
    cells = []
    for path in files:
        try:
            cells.extend(expand(load_scenario(path)).cells)
        except ConfigError as exc:
            print(f"skipped invalid scenario: {exc}")
    expected = {args.cassettes / cell.cassette_relpath: cell for cell in cells}
    present = {p for p in args.cassettes.rglob("*.yaml")} if args.cassettes.is_dir() else set()
    orphans = sorted(present - set(expected))
    # A cell skipped by its scenario (`skip:`) never records: no cassette is expected of it.
    missing = sorted(p for p, cell in expected.items() if p not in present and not cell.skip)
    problems: list[str] = [f"orphan cassette (no cell records it): {p}" for p in orphans]
    problems += [f"cell without cassette: {expected[p].scenario.name}[{expected[p].id}] (expected {p})"
                 for p in missing]
    if not args.no_replay:
        problems += _replay_problems([cell for path, cell in expected.items() if path in present], args.cassettes)
    for line in problems:
        print(line)
    print(f"{len(cells)} cells, {len(present)} cassettes: {len(orphans)} orphans, {len(missing)} missing, "
          f"{len(problems) - len(orphans) - len(missing)} replay problems")
    return 1 if problems else 0


def _replay_problems(cells: list, cassettes: Path) -> list[str]:
    import shutil

    from pytest_kylecode.cell.drivers import driver_for
    from pytest_kylecode.cell.stack import emulator_upstream, execute_cell
    from pytest_kylecode.failures import CassetteError, CellFailure, ReplayAborted

    problems = []
    for cell in cells:
        name = f"{cell.scenario.name}[{cell.id}]"
        try:
            run = execute_cell(cell, cassettes=cassettes, record="none", upstream_kind="emulator",
                               upstream=emulator_upstream, driver=driver_for(cell))
        except ReplayAborted as exc:
            problems.append(f"{name}: replay miss: {str(exc).splitlines()[0]}")
            continue
        except (CellFailure, CassetteError) as exc:
            problems.append(f"{name}: {str(exc).splitlines()[0]}")
            continue
        shutil.rmtree(run.workspace, ignore_errors=True)
        problems += [f"{name}: {problem.splitlines()[0]}" for problem in run.cassette_problems]
    return problems
