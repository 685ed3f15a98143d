"""The matrix session's unused-snapshot report: orphan snapshots, deleted only on a full run.

Registered by ``KylecodeSession.start`` as a plugin object of its own. At collection, before
``-k``, ``-m`` or a shard deselect anything, it takes the census of the scenario files and their
cells (``orphans.Census``) and claims the snapshot site for our syrupy extension
(``snapshot.claim_snapshot_site``). At the end of the session, in the process that sees every
report (the only one, or the xdist controller, which gets a worker's census through
``workeroutput``), it walks the scenario tree once, names the orphans, and:

- under ``--snapshot-update`` (and not ``--snapshot-no-cleanup``) deletes them, but only after a
  full run: every scenario file of the tree loaded and valid, and every one of their cells ran
  to an outcome in this session. Anything less (``-k``, ``-m``, a shard, paths, ``-x``,
  ``--maxfail``, a stopped live budget, an interrupted run) keeps them and says why;
- without it, lists them, and fails a full run as syrupy fails one with unused snapshots
  (``--snapshot-warn-unused`` keeps the exit status).

``--snapshot-disable-unused`` turns all of it off.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_kylecode import orphans
from pytest_kylecode.options import Settings
from pytest_kylecode.orphans import Census, SnapshotFile
from pytest_kylecode.report import MatrixReport

if TYPE_CHECKING:
    from pytest_kylecode.scenarios.scenario import Scenario

_WORKER_KEY = "kylecode_snapshot_census"
_LISTED = 20  # orphans named in the summary; `kylecode cassettes check` names every one


class OrphanReport:
    """``report`` is the session's matrix report: the outcome of every cell that ran here."""

    def __init__(self, config: pytest.Config, settings: Settings, report: MatrixReport, *, is_worker: bool) -> None:
        self.config = config
        self.settings = settings
        self.report = report
        self.is_worker = is_worker
        self.root = settings.scenarios
        self._resolved_root = self.root.resolve()
        self._files: set[str] = set()
        self.census: Census | None = None  # this process's, once collection finished
        self._worker_census: Census | None = None
        self.orphans: list[SnapshotFile] = []
        self.deleted: list[Path] = []
        self.kept_because = ""

    @property
    def _enabled(self) -> bool:
        return not getattr(self.config.option, "disable_unused_snapshots", False)

    def _relpath(self, path: Path) -> str:
        """``path`` relative to the scenario directory, as the tree walk names it; through
        symlinks only when the plain spelling is not under it."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            pass
        try:
            return Path(path).resolve().relative_to(self._resolved_root).as_posix()
        except ValueError:
            return str(path)

    # -- collection (every process that collects: the only one, or each xdist worker) -------------

    def pytest_collectstart(self, collector: pytest.Collector) -> None:
        from pytest_kylecode.collect import ScenarioModule

        if isinstance(collector, ScenarioModule) and self._enabled:
            self._files.add(self._relpath(collector.path))

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        # First of all implementations: nothing is deselected yet, so the census has every cell.
        if not self._enabled:
            return
        from pytest_kylecode.collect import CellItem, ScenarioErrorItem
        from pytest_kylecode.snapshot import claim_snapshot_site

        census = Census()
        for relpath in self._files:
            census.add_file(relpath)
        scenario: Scenario | None = None
        cells: set[str] = set()
        for item in items:
            if isinstance(item, CellItem):
                cell = item.cell
                if cell.scenario is not scenario:  # a scenario's cells come together: one lookup each
                    scenario = cell.scenario
                    cells = census.cells_of(self._relpath(scenario.path), scenario.name, scenario.snapshot)
                    claim_snapshot_site(config, item)
                cells.add(cell.id)
                census.nodeids.append(item.nodeid)
            elif isinstance(item, ScenarioErrorItem):
                census.add_invalid(self._relpath(item.path))
        self.census = census

    # -- the end of the session -------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: object, error: object) -> None:
        # xdist's hook: ``node`` is the controller's handle on a worker that finished, whose
        # ``workeroutput`` is what the worker put there (absent when the worker crashed).
        # Every worker collected the same tree: the first census that arrives is the census.
        output = getattr(node, "workeroutput", None)
        blob = output.get(_WORKER_KEY) if isinstance(output, dict) else None
        if blob is not None and self._worker_census is None:
            self._worker_census = Census.from_bytes(blob)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self._enabled:
            return
        if self.is_worker:
            if self.census is not None:
                output = self.config.workeroutput  # type: ignore[attr-defined]  # xdist's, on a worker's config
                output[_WORKER_KEY] = self.census.to_bytes()
            return
        census = self._worker_census or self.census
        if census is None:  # collection never finished (or no worker reported): nothing is known
            return
        tree = orphans.walk(self.root)
        self.orphans = orphans.find(tree, census)
        if not self.orphans:
            return
        full, why = self._full_run(census, tree)
        option = self.config.option
        if getattr(option, "update_snapshots", False):
            if getattr(option, "no_cleanup", False):
                self.kept_because = "kept (--snapshot-no-cleanup)"
            elif not full:
                self.kept_because = (
                    f"kept: --snapshot-update deletes them only on a run of every cell of every scenario ({why})"
                )
            else:
                self.deleted = orphans.delete(self.root, self.orphans)
        elif full and not getattr(option, "warn_unused_snapshots", False) and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _full_run(self, census: Census, tree: orphans.ScenarioTree) -> tuple[bool, str]:
        """Whether every cell of every scenario of the tree ran to an outcome here; if not, why."""
        if not census.covers(tree):
            if census.invalid:
                return False, f"{len(census.invalid)} scenario files do not validate"
            return False, "this run did not load every scenario file"
        rows = self.report.rows
        ran = sum(1 for nodeid in census.nodeids if (row := rows.get(nodeid)) is not None and row.outcome != "not run")
        if ran < len(census.nodeids):
            return False, (
                f"{ran} of {len(census.nodeids)} cells ran: -k, -m, a shard, paths, -x, --maxfail or a "
                "stopped run left the others out"
            )
        return True, ""

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker or not self.orphans:
            return
        terminalreporter.write_sep("-", "kylecode orphan snapshots")
        for line in self.summary_lines():
            terminalreporter.write_line(line)

    def summary_lines(self) -> list[str]:
        count = len(self.orphans)
        head = "deleted " if self.deleted else ""
        lines = [f"kylecode: {head}{count} orphan snapshots (no cell of any scenario takes them):"]
        rootdir = self.settings.rootdir
        for snap in self.orphans[:_LISTED]:
            lines.append(f"  {_display(self.root / snap.relpath(), rootdir)}")
        if count > _LISTED:
            lines.append(f"  ... and {count - _LISTED} more (kylecode cassettes check lists every one)")
        if self.kept_because:
            lines.append(self.kept_because)
        elif not self.deleted:
            lines.append("delete them with --snapshot-update on a run of every cell (no -k, -m, shard or paths)")
        return lines

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        config.pluginmanager.unregister(self)


def _display(path: Path, rootdir: Path) -> str:
    try:
        return str(path.relative_to(rootdir))
    except ValueError:
        return str(path)
