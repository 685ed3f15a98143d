"""Orphan metrics snapshots: snapshot files that no cell of any scenario takes.

A cell's snapshot lives at ``<D>/__snapshots__/<scenario>/<cell id>.json``, where ``D`` is the
directory of its scenario file (``snapshot.py``). A file there is an *orphan* when its scenario
has no such cell any more (an axis value, an ``exclude`` or ``snapshot: false`` took it away), or
when no scenario of that name lives in ``D`` (the file was removed, renamed or moved). Whether a
cell ran in some session has nothing to do with it: a cell that was deselected, skipped, stopped
or left to another shard still owns its snapshot.

Only what is known is judged. Without a ``Census`` of every scenario file of the tree (a session
given paths, a file that does not validate), a directory whose name is no known scenario is left
alone: it may belong to a scenario that was not loaded. So is every directory of a ``D`` that holds
Python files, where the same layout is that of a test's own snapshots (``kylecode_cell`` tests
keep theirs as ``__snapshots__/<test function>/<cell id>.json``); and so is anything not shaped
like a cell's snapshot (syrupy's other extensions write ``__snapshots__/<file>.ambr`` and
``__snapshots__/<test file>/<test>.json``; every cell id holds a ``/``).

``walk`` reads the tree in one pass; ``Census`` is what a pytest session (or ``kylecode cassettes
check``) knows of the scenarios, and travels from xdist workers to the controller as bytes.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent_runtime.messages import JSONObject

SNAPSHOT_DIR = "__snapshots__"
SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class SnapshotFile:
    site: str  # the scenario directory, relative to the tree's root ("" for the root itself)
    scenario: str
    cell_id: str

    def relpath(self) -> str:
        return "/".join(part for part in (self.site, SNAPSHOT_DIR, self.scenario, self.cell_id + SUFFIX) if part)


@dataclass(slots=True)
class ScenarioTree:
    """One walk of a scenario directory: its scenario files and the snapshot files beside them."""

    root: Path
    scenario_files: list[str] = field(default_factory=list)  # relative, "/"-separated, sorted
    snapshots: list[SnapshotFile] = field(default_factory=list)
    python_sites: set[str] = field(default_factory=set)


def walk(root: Path) -> ScenarioTree:
    """Scenario files (as ``scenario_files`` selects them) and cell-shaped snapshot files, in one pass.

    Hidden directories are skipped everywhere, ``__*`` directories other than ``__snapshots__``
    outside it, exactly as the matrix skips them when it collects.
    """
    tree = ScenarioTree(root)
    if root.is_dir():
        _scan_scenarios(tree, str(root), "")
    tree.scenario_files.sort()
    tree.snapshots.sort(key=lambda s: (s.site, s.scenario, s.cell_id))
    return tree


def _scan_scenarios(tree: ScenarioTree, directory: str, site: str) -> None:
    prefix = f"{site}/" if site else ""
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_dir():
                if name == SNAPSHOT_DIR:
                    with os.scandir(entry.path) as scenarios:
                        for scenario in scenarios:
                            if not scenario.name.startswith(".") and scenario.is_dir():
                                _scan_snapshots(tree, scenario.path, site, scenario.name, "")
                elif not name.startswith("__"):
                    _scan_scenarios(tree, entry.path, prefix + name)
            elif name.endswith((".yaml", ".yml")):
                tree.scenario_files.append(prefix + name)
            elif name.endswith(".py"):
                tree.python_sites.add(site)


def _scan_snapshots(tree: ScenarioTree, directory: str, site: str, scenario: str, below: str) -> None:
    # Files directly in <scenario>/ are not a cell's (every cell id holds a "/"): only below it.
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith("."):
                continue
            if entry.is_dir():
                _scan_snapshots(tree, entry.path, site, scenario, f"{below}{name}/")
            elif below and name.endswith(SUFFIX):
                tree.snapshots.append(SnapshotFile(site, scenario, below + name[: -len(SUFFIX)]))


@dataclass(slots=True)
class Census:
    """What was loaded of a scenario tree: every scenario file seen, the valid ones' cells.

    ``files`` are the scenario files looked at (valid or not), ``invalid`` those that did not
    validate, ``scenarios`` maps a valid file to its name, whether it takes snapshots, and its
    cell ids; ``nodeids`` are the pytest node ids of the cells, when a session took the census.
    Paths are relative to the tree's root, ``/``-separated.
    """

    files: set[str] = field(default_factory=set)
    invalid: set[str] = field(default_factory=set)
    scenarios: dict[str, tuple[str, bool, set[str]]] = field(default_factory=dict)
    nodeids: list[str] = field(default_factory=list)

    def add_file(self, relpath: str) -> None:
        self.files.add(relpath)

    def add_invalid(self, relpath: str) -> None:
        self.files.add(relpath)
        self.invalid.add(relpath)

    def cells_of(self, relpath: str, scenario: str, snapshot: bool) -> set[str]:
        """The (mutable) cell-id set of a valid scenario file, for the caller to fill."""
        entry = self.scenarios.get(relpath)
        if entry is None:
            self.files.add(relpath)
            entry = self.scenarios[relpath] = (scenario, snapshot, set())
        return entry[2]

    def covers(self, tree: ScenarioTree) -> bool:
        """Every scenario file of the tree was loaded and validated: every name is known."""
        return not self.invalid and self.files.issuperset(tree.scenario_files)

    def to_bytes(self) -> bytes:
        data = {
            "files": sorted(self.files),
            "invalid": sorted(self.invalid),
            "nodeids": self.nodeids,
            "scenarios": {
                path: [name, snapshot, sorted(cells)] for path, (name, snapshot, cells) in self.scenarios.items()
            },
        }
        return zlib.compress(json.dumps(data, separators=(",", ":")).encode())

    @classmethod
    def from_bytes(cls, blob: bytes) -> Census:
        data: JSONObject = json.loads(zlib.decompress(blob))
        return cls(
            files=set(data["files"]),
            invalid=set(data["invalid"]),
            nodeids=list(data["nodeids"]),
            scenarios={
                path: (name, bool(snapshot), set(cells)) for path, (name, snapshot, cells) in data["scenarios"].items()
            },
        )


def find(tree: ScenarioTree, census: Census) -> list[SnapshotFile]:
    """The orphans of ``tree`` that ``census`` can tell (module docstring), in path order."""
    known: dict[tuple[str, str], tuple[bool, set[str]]] = {}
    for path, (name, snapshot, cells) in census.scenarios.items():
        known[(path.rpartition("/")[0], name)] = (snapshot, cells)
    every_name_known = census.covers(tree)
    orphans = []
    for snap in tree.snapshots:
        entry = known.get((snap.site, snap.scenario))
        if entry is not None:
            snapshot, cells = entry
            if not snapshot or snap.cell_id not in cells:
                orphans.append(snap)
        elif every_name_known and snap.site not in tree.python_sites:
            orphans.append(snap)
    return orphans


def delete(root: Path, orphans: Iterable[SnapshotFile]) -> list[Path]:
    """Remove the orphans' files (one atomic unlink each) and the directories they leave empty,
    up to but not including ``__snapshots__``; returns the files removed."""
    removed = []
    parents: set[Path] = set()
    for snap in orphans:
        path = root / snap.relpath()
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed.append(path)
        parents.add(path.parent)
    for directory in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        while directory.name != SNAPSHOT_DIR and directory != root:
            try:
                directory.rmdir()
            except OSError:  # not empty (or already gone with a deeper one): stop climbing
                break
            directory = directory.parent
    return removed
