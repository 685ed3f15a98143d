"""The per-pytest-session state of the matrix, registered as a plugin object.

Created by ``plugin.pytest_configure`` only under ``--kylecode-matrix``. It owns
the resolved settings, the scenario registry (duplicate names are errors), the
shard selection, the cell runner and the report aggregation. Its ``pytest_*``
methods are hooks; on the xdist controller ``pytest_runtest_logreport`` sees
every worker's reports, so the report is correct under ``-n``.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pytest

from pytest_kylecode.options import Settings, resolve_settings
from pytest_kylecode.report import MatrixReport
from pytest_kylecode.report.baseline import Baseline, Comparison
from pytest_kylecode.scenarios.files import ScenarioNames, holds_no_scenarios, is_scenario_file
from pytest_kylecode.stash import CELL, NAMES, RUNNER

if TYPE_CHECKING:
    from pytest_kylecode.byo.driver import PreparedAgent
    from pytest_kylecode.cell.runner import CellRunner

_KEY = pytest.StashKey["KylecodeSession"]()


def get_session(config: pytest.Config) -> KylecodeSession:
    return config.stash[_KEY]


def shard_of(nodeid: str, total: int) -> int:
    """1-based shard of a node id: a stable hash, so every job agrees without talking."""
    digest = hashlib.sha1(nodeid.encode()).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def _relative(path: str, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return path


class _WorkerNode(Protocol):
    """What ``pytest_configure_node`` uses of xdist's ``WorkerController`` (xdist ships no types)."""

    workerinput: dict[str, object]


class KylecodeSession:
    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self.config = config
        self.settings = settings
        self._runner: CellRunner | None = None
        self.report = MatrixReport(settings.rootdir)
        self.is_worker = hasattr(config, "workerinput")
        self.baseline: Baseline | None = None
        self._comparison: Comparison | None = None
        self._worker_workspaces: Path | None = None

    @classmethod
    def start(cls, config: pytest.Config) -> KylecodeSession:
        session = cls(config, resolve_settings(config))
        if session.settings.baseline is not None and not session.is_worker:
            # Read before any cell runs: a wrong path must not cost a whole matrix run.
            from agent_runtime.errors import ConfigError
            from pytest_kylecode.report.baseline import load_baseline

            try:
                session.baseline = load_baseline(session.settings.baseline)
            except ConfigError as exc:
                raise pytest.UsageError(f"--kylecode-baseline: {exc}") from None
        config.stash[_KEY] = session
        config.stash[NAMES] = ScenarioNames()
        config.stash[RUNNER] = session
        config.pluginmanager.register(session, "kylecode-session")
        from pytest_kylecode.orphan_report import OrphanReport

        config.pluginmanager.register(
            OrphanReport(config, session.settings, session.report, is_worker=session.is_worker),
            "kylecode-orphan-snapshots",
        )
        # With no path arguments pytest would collect testpaths (the project's own tests);
        # the matrix collects the scenario directory only.
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            config.args[:] = [str(session.settings.scenarios)]
        if config.option.collectonly and hasattr(config.option, "disable_unused_snapshots"):
            # Nothing runs under --collect-only, so syrupy would call every cell's snapshot unused
            # and fail the session; counting cells must not.
            config.option.disable_unused_snapshots = True
        return session

    # -- collection ---------------------------------------------------------------------------

    def is_scenario_file(self, path: Path) -> bool:
        return is_scenario_file(path, self.settings.scenarios)

    def pytest_ignore_collect(self, collection_path: Path, config: pytest.Config) -> bool | None:
        # The snapshot (``__snapshots__``) and hidden directories of the scenario tree hold no
        # scenario (``is_scenario_file`` refuses them): not walking them spares pytest two hook calls
        # per snapshot file, one file per cell. 10,000 cells: collection 1.7 s -> 1.1 s.
        if not holds_no_scenarios(collection_path.name) or not collection_path.is_dir():
            return None
        try:
            inside = collection_path.resolve().relative_to(self.settings.scenarios.resolve()).parts
        except ValueError:
            return None
        return True if inside else None

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        # Last, after syrupy has seen every collected cell: a deselected cell's snapshot is then
        # "not selected" rather than "unused".
        if self.settings.shard is None:
            return
        index, total = self.settings.shard
        keep = [item for item in items if shard_of(item.nodeid, total) == index]
        dropped = [item for item in items if shard_of(item.nodeid, total) != index]
        if dropped:
            # Deselect (not "not collect"): syrupy then knows those cells' snapshots are not unused.
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep

    def pytest_report_collectionfinish(self, config: pytest.Config, items: list[pytest.Item]) -> str:
        cells = sum(1 for item in items if CELL in item.stash)
        shard = f" (shard {self.settings.shard[0]}/{self.settings.shard[1]})" if self.settings.shard else ""
        return (
            f"kylecode: {cells} cells{shard}, record={self.settings.record}, "
            f"upstream={self.settings.upstream}, cassettes={self.settings.cassettes}"
        )

    # -- running ------------------------------------------------------------------------------

    def run(self, item: pytest.Item, request: pytest.FixtureRequest, agent: PreparedAgent | None = None) -> None:
        if self._runner is None:
            from pytest_kylecode.cell.runner import CellRunner

            self._runner = CellRunner(self.settings, self.config)
        self._runner.run(item, request, agent)

    # -- reporting ----------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.report.add(report)

    def comparison(self) -> Comparison | None:
        """This run against the baseline, once all cells have reported (None without a baseline)."""
        if self.baseline is None:
            return None
        if self._comparison is None:
            from pytest_kylecode.report.baseline import compare
            from pytest_kylecode.report.document import census

            defined = census(self.settings.scenarios, self.settings.rootdir, set()).nodeids
            source = _relative(str(self.baseline.path), self.settings.rootdir)
            self._comparison = compare(self.baseline, self.report, source=source, defined=defined)
        return self._comparison

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        if self.is_worker or not self.report.rows:
            return
        from pytest_kylecode.report import terminal

        terminalreporter.write_sep("=", "kylecode matrix")
        for line in terminal.render(self.report, self.comparison()).splitlines():
            terminalreporter.write_line(line)
        if self.settings.upstream != "live":
            from agent_runtime.loop.tools.shell import sandbox_in_use

            if sandbox_in_use() is None:  # once a session, on the controller: the machine decides, not the cell
                terminalreporter.write_line(
                    "kylecode: run_shell ran unsandboxed: neither bubblewrap (bwrap) nor unshare works on this "
                    "machine, so shell commands from scenarios and cassettes had your network and files "
                    "(docs/trust.md)",
                    yellow=True,
                )
        # From the report rows, not the runner: under xdist the cells ran in the workers.
        changed = sorted(
            {
                _relative(row.details["cassette_changed"], self.settings.rootdir)
                for row in self.report.rows.values()
                if row.details.get("cassette_changed")
            }
        )
        if changed:
            terminalreporter.write_line(f"kylecode: {len(changed)} cassettes changed (review them with git diff):")
            for path in changed:
                terminalreporter.write_line(f"  {path}")
        kept = sorted(
            ((row.nodeid, row.details) for row in self.report.rows.values() if row.details.get("cassette_kept")),
            key=lambda pair: pair[0],
        )
        if kept:
            paths = sorted({_relative(details["cassette_kept"], self.settings.rootdir) for _, details in kept})
            terminalreporter.write_line(
                f"kylecode: kept {len(paths)} cassettes as they were: the cells failed "
                f"(first: {kept[0][1].get('kept_reason', 'see the failure')}); nothing was written for them "
                "(--kylecode-record-failed writes them anyway):"
            )
            for path in paths:
                terminalreporter.write_line(f"  {path}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker or self.settings.report is None:
            return
        from pytest_kylecode.report.files import write_report

        write_report(
            self.report,
            self.settings.report,
            scenarios_dir=self.settings.scenarios,
            rootdir=self.settings.rootdir,
            comparison=self.comparison(),
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: _WorkerNode) -> None:
        """Give every xdist worker's workspaces one directory that this controller removes at its
        end: a worker that is shut down before its own cleanup (the controller stopping it early,
        a crash) must not leave temporary workspaces behind."""
        from pytest_kylecode.workspaces import PREFIX, WORKSPACES_KEY

        if self._worker_workspaces is None:
            self._worker_workspaces = Path(tempfile.mkdtemp(prefix=PREFIX))
        node.workerinput[WORKSPACES_KEY] = str(self._worker_workspaces)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        if self._runner is not None:
            self._runner.close()
        if self._worker_workspaces is not None:
            from pytest_kylecode.workspaces import remove_tree

            remove_tree(self._worker_workspaces)
        config.pluginmanager.unregister(self)
