"""``kylecode cassettes check`` and ``kylecode cassettes diff``.

``diff [REV]`` lists every cassette that changed between the git revision REV (default ``HEAD``)
and the working tree, untracked ones included, and classifies each (``drift``): identical,
benign or behavioural, with the fields that changed; ``--format markdown`` writes the same as the
body of a re-record pull request. Git is run as a subprocess; nothing is written.

``check`` compares the cassette and snapshot trees with the cells of the scenarios.

Reported: orphan cassettes (no cell records them), cells without a cassette, stale cassettes
(recorded for another version of their scenario: the ``scenario_hash`` of their provenance,
read from the file's head, no longer matches), orphan metrics snapshots (``orphans``), temporary
files that an interrupted write of a cassette or a snapshot left behind, and,
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

HELP = (
    "check cassettes and snapshots against the scenarios (orphans, missing, stale, unplayed); "
    "diff: what a re-record changed, benign or behavioural"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="compare the cassette and snapshot trees with the cells of the scenarios")
    check.add_argument(
        "--scenarios",
        type=Path,
        default=None,
        metavar="DIR",
        help="scenario directory (default: the project's, ini kylecode_scenarios)",
    )
    check.add_argument(
        "--cassettes",
        type=Path,
        default=None,
        metavar="DIR",
        help="cassette directory (default: the project's, ini kylecode_cassettes)",
    )
    check.add_argument(
        "--no-replay",
        action="store_true",
        help="only compare the trees and the cassettes' scenario hashes; do not replay cells to "
        "find unplayed interactions",
    )
    diff = sub.add_parser(
        "diff",
        help="classify every cassette changed since a git revision: identical, benign or behavioural",
    )
    diff.add_argument(
        "rev", nargs="?", default="HEAD", metavar="REV", help="git revision to compare with (default HEAD)"
    )
    diff.add_argument(
        "--cassettes",
        type=Path,
        default=None,
        metavar="DIR",
        help="cassette directory (default: the project's, ini kylecode_cassettes)",
    )
    diff.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="text (default), or markdown for the body of a re-record pull request",
    )


def run(args: argparse.Namespace) -> int:
    action: str = args.action
    return _diff(args) if action == "diff" else _check(args)


def _check(args: argparse.Namespace) -> int:
    from agent_runtime.errors import ConfigError
    from pytest_kylecode import orphans
    from pytest_kylecode.cassettes.provenance import read_provenance
    from pytest_kylecode.failures import CassetteError
    from pytest_kylecode.project import find_project
    from pytest_kylecode.scenarios.matrix import expand, load_scenario

    project = find_project()
    scenarios: Path = args.scenarios or project.scenarios
    cassettes: Path = args.cassettes or project.cassettes
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
    leftovers = _temporary_files(cassettes, scenarios)
    problems += [f"temporary file of an interrupted write (nothing reads it; remove it): {path}" for path in leftovers]
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
        + (f"; {len(leftovers)} temporary files" if leftovers else "")
    )
    return 1 if problems else 0


def _temporary_files(*roots: Path) -> list[Path]:
    """The temporary files that writes of cassettes and snapshots left (a kill -9 mid-write):
    hidden, so easy to miss, yet git shows them."""
    from agent_runtime.paths import is_temporary

    found = {path for root in roots if root.is_dir() for path in root.rglob(".*.tmp") if is_temporary(path.name)}
    return sorted(found)


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


class GitError(Exception):
    """Git refused (not a repository, an unknown revision): its own message, one line."""


def _git(cwd: Path, *argv: str, stdin: bytes | None = None) -> bytes:
    import subprocess

    try:
        done = subprocess.run(["git", *argv], cwd=cwd, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed (it is needed to read the other revision)") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
        raise GitError(message[-1] if message else f"git {' '.join(argv)} failed ({done.returncode})")
    return done.stdout


def _changed_cassettes(top: Path, rev: str, directory: str) -> dict[str, bool]:
    """The cassettes (paths relative to the repository's top) that differ between ``rev`` and the
    working tree, untracked ones included, each with whether ``rev`` has it."""
    changed: dict[str, bool] = {}
    status = _git(top, "diff", "--name-status", "--no-renames", "-z", rev, "--", directory).split(b"\0")
    for letter, name in zip(status[0::2], status[1::2], strict=False):
        changed[name.decode()] = letter != b"A"  # A: added to the index since rev
    untracked = _git(top, "ls-files", "--others", "--exclude-standard", "-z", "--", directory).split(b"\0")
    changed.update((name.decode(), False) for name in untracked if name)
    return {name: at_rev for name, at_rev in sorted(changed.items()) if name.endswith((".yaml", ".yml"))}


def _blobs(top: Path, rev: str, names: list[str]) -> dict[str, bytes]:
    """The content of each of ``names`` at ``rev``, read by one ``git cat-file --batch``."""
    if not names:
        return {}
    out = _git(top, "cat-file", "--batch", stdin="".join(f"{rev}:{name}\n" for name in names).encode())
    blobs: dict[str, bytes] = {}
    position = 0
    for name in names:
        header_end = out.index(b"\n", position)
        header = out[position:header_end].split()
        if header[-1] == b"missing":
            raise GitError(f"{rev}:{name} is missing")
        size = int(header[2])
        blobs[name] = out[header_end + 1 : header_end + 1 + size]
        position = header_end + 1 + size + 1  # the blob, then its newline
    return blobs


def _diff(args: argparse.Namespace) -> int:
    from pytest_kylecode import drift
    from pytest_kylecode.cassettes import format as ours
    from pytest_kylecode.failures import CassetteError
    from pytest_kylecode.project import find_project

    rev: str = args.rev
    render = drift.format_markdown if args.format == "markdown" else drift.format_text
    cassettes: Path = (args.cassettes or find_project().cassettes).resolve()
    # The directory may be gone from the working tree (every cassette deleted): ask git from the
    # nearest directory that exists.
    anchor = next(p for p in (cassettes, *cassettes.parents) if p.is_dir())
    results = []
    try:
        top = Path(_git(anchor, "rev-parse", "--show-toplevel").decode().strip()).resolve()
        try:
            _git(top, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
        except GitError:
            raise GitError(f"unknown revision {rev!r} (no such commit in {top})") from None
        changed = _changed_cassettes(top, rev, cassettes.relative_to(top).as_posix() or ".")
        old_texts = _blobs(top, rev, [name for name, at_rev in changed.items() if at_rev])
        for name in changed:
            path = top / name
            new = ours.loads(path.read_text(encoding="utf-8"), source=name) if path.is_file() else None
            old_text = old_texts.get(name)
            old = ours.loads(old_text.decode("utf-8"), source=f"{rev}:{name}") if old_text is not None else None
            if old is not None or new is not None:
                results.append(drift.compare(name, old, new))
    except (GitError, CassetteError, UnicodeDecodeError, ValueError) as exc:
        print(f"kylecode cassettes diff: error: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(results, against=rev))
    return 0
