"""``kylecode cassettes check``: the cassette and snapshot trees against the cells of the scenarios.

Reported: orphan cassettes (no cell records them), cells without a cassette, stale cassettes
(recorded for another version of their scenario: the ``scenario_hash`` of their provenance,
read from the file's head, no longer matches), orphan metrics snapshots (``orphans``), and,
unless ``--no-replay``, what replay finds: every cell with a fresh cassette is replayed
(record mode ``none``, the cell's fault injected, on a virtual clock) exactly as the matrix
would, so interactions the runtime no longer requests show up too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_kylecode.scenarios.scenario import Cell

HELP = "check cassettes and snapshots against the scenarios: orphans, cells without cassettes, stale or unplayed ones"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="compare the cassette and snapshot trees with the cells of the scenarios")
    check.add_argument(
        "--scenarios",
        type=Path,
        default=Path("scenarios"),
        metavar="DIR",
        help="scenario directory (default: scenarios)",
    )
    check.add_argument(
        "--cassettes",
        type=Path,
        default=Path("cassettes"),
        metavar="DIR",
        help="cassette directory (default: cassettes)",
    )
    check.add_argument(
        "--no-replay",
        action="store_true",
        help="only compare the trees and the cassettes' scenario hashes; do not replay cells to "
        "find unplayed interactions",
    )


def run(args: argparse.Namespace) -> int:
    from agent_runtime.errors import ConfigError
    from pytest_kylecode import orphans
    from pytest_kylecode.cassettes.provenance import read_provenance
    from pytest_kylecode.failures import CassetteError
    from pytest_kylecode.scenarios.matrix import expand, load_scenario

    scenarios: Path = args.scenarios
    cassettes: Path = args.cassettes
    no_replay: bool = args.no_replay
    if not scenarios.is_dir():
        print(f"kylecode cassettes: scenario directory {str(scenarios)!r} does not exist", file=sys.stderr)
        return 2
    tree = orphans.walk(scenarios)  # one pass: the scenario files and the snapshots beside them
    census = orphans.Census()
    cells: list[Cell] = []
    for relpath in tree.scenario_files:
        try:
            scenario = load_scenario(scenarios / relpath)
            expansion = expand(scenario)
        except ConfigError as exc:
            print(f"skipped invalid scenario: {exc}")
            census.add_invalid(relpath)
            continue
        census.cells_of(relpath, scenario.name, scenario.snapshot).update(cell.id for cell in expansion.cells)
        cells.extend(expansion.cells)
    expected = {cassettes / cell.cassette_relpath: cell for cell in cells}
    present = set(cassettes.rglob("*.yaml")) if cassettes.is_dir() else set()
    orphan_cassettes = sorted(present - set(expected))
    # A cell skipped by its scenario (`skip:`) never records: no cassette is expected of it.
    missing = sorted(p for p, cell in expected.items() if p not in present and not cell.skip)
    problems: list[str] = [f"orphan cassette (no cell records it): {p}" for p in orphan_cassettes]
    problems += [
        f"cell without cassette: {expected[p].scenario.name}[{expected[p].id}] (expected {p})" for p in missing
    ]
    hashes: dict[str, str] = {}
    stale: list[str] = []
    fresh: list[Cell] = []
    for path in sorted(p for p in expected if p in present):
        cell = expected[path]
        current = hashes.get(cell.scenario.name) or hashes.setdefault(cell.scenario.name, cell.scenario.content_hash)
        try:
            recorded = read_provenance(path).get("scenario_hash")
        except (CassetteError, OSError) as exc:
            stale.append(f"unreadable cassette: {exc}")
            continue
        if recorded != current:
            stale.append(
                f"stale cassette (recorded for another version of scenario {cell.scenario.name!r}: "
                f"scenario hash {recorded or 'none'}, now {current}; re-record its cells): {path}"
            )
        else:
            fresh.append(cell)
    problems += stale
    orphan_snapshots = orphans.find(tree, census)
    problems += [
        f"orphan snapshot (no cell of any scenario takes it): {scenarios / snap.relpath()}" for snap in orphan_snapshots
    ]
    replay = [] if no_replay else _replay_problems(fresh, cassettes)
    problems += replay
    for line in problems:
        print(line)
    if census.invalid:
        print(
            f"{len(census.invalid)} scenario files do not validate: snapshots of names that no valid scenario "
            "has were not judged"
        )
    replayed = (
        "replay skipped (--no-replay): no cell was replayed, unplayed interactions are not checked"
        if no_replay
        else f"{len(replay)} replay problems"
    )
    print(
        f"{len(cells)} cells, {len(present)} cassettes, {len(tree.snapshots)} snapshots: "
        f"{len(orphan_cassettes)} orphan cassettes, {len(missing)} missing, {len(stale)} stale, "
        f"{len(orphan_snapshots)} orphan snapshots; {replayed}"
    )
    return 1 if problems else 0


def _replay_problems(cells: list[Cell], cassettes: Path) -> list[str]:
    import shutil

    from pytest_kylecode.cell.drivers import driver_for
    from pytest_kylecode.cell.stack import emulator_upstream, execute_cell
    from pytest_kylecode.failures import CassetteError, CellFailure, ReplayAborted

    problems: list[str] = []
    for cell in cells:
        name = f"{cell.scenario.name}[{cell.id}]"
        try:
            run = execute_cell(
                cell,
                cassettes=cassettes,
                record="none",
                upstream_kind="emulator",
                upstream=emulator_upstream,
                driver=driver_for(cell),
            )
        except ReplayAborted as exc:
            problems.append(f"{name}: replay miss: {str(exc).splitlines()[0]}")
            continue
        except (CellFailure, CassetteError) as exc:
            problems.append(f"{name}: {str(exc).splitlines()[0]}")
            continue
        shutil.rmtree(run.workspace, ignore_errors=True)
        problems += [f"{name}: {problem.splitlines()[0]}" for problem in run.cassette_problems]
    return problems
