"""The pytest side of a cell: time limit, verdict, snapshot, what may be written, failure report.

``CellRunner.run`` executes the cell (``cell.stack.execute_cell``) with its driver under a
wall-time bound, judges it (``cell.verdict``), compares the metrics snapshot, and only then
decides what is written: the recorded cassette and, under ``--snapshot-update``, the snapshot
are written only for a cell that passed (``--kylecode-record-failed`` writes a failed
recording anyway). A failing cell keeps its run directory (every cell with
``--kylecode-keep-runs``) and fails with one readable report whose advice fits the failure:
re-record when the traffic is what is wrong, the scenario's line when an expectation is.
This is the one place the failure vocabulary becomes advice.
"""

from __future__ import annotations

import difflib
import shlex
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import httpx
import pytest

from agent_runtime.clock import Clock
from agent_runtime.messages import JSONObject
from agent_runtime.runner import AgentRun
from pytest_kylecode.cassettes.live import LiveTransport
from pytest_kylecode.cassettes.modes import records
from pytest_kylecode.cassettes.parsed_cache import CACHE_KEY as PARSED_CACHE_KEY, ParsedCassettes
from pytest_kylecode.cell.drivers import driver_for
from pytest_kylecode.cell.stack import CellRun, emulator_upstream, execute_cell
from pytest_kylecode.cell.verdict import Verdict, judge, relative_where
from pytest_kylecode.failures import (
    CassetteError,
    CassetteRefused,
    CellFailure,
    CellTimeout,
    LiveBudgetExhausted,
    LiveKeyMissing,
    ReplayAborted,
)
from pytest_kylecode.options import Settings
from pytest_kylecode.report.excerpt import headline_metrics, transcript_excerpt
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.stash import CELL
from pytest_kylecode.workspaces import WORKSPACES_KEY, WorkspacePool

if TYPE_CHECKING:
    from pytest_kylecode.byo.driver import PreparedAgent

__all__ = ["CellRunner"]


class CellRunner:
    """Runs cells for one pytest session; owns the workspace pool and the shared live transport."""

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        self.settings = settings
        self.config = config
        self._live: LiveTransport | None = None
        workerinput = getattr(config, "workerinput", {})
        parent = workerinput.get(WORKSPACES_KEY)
        self._workspaces = WorkspacePool(parent=Path(parent) if parent else None)
        self._where = relative_where(settings.rootdir)
        # pytest's cache directory keeps the parsed cassettes (none under -p no:cacheprovider).
        cache = getattr(config, "cache", None)
        self._parsed = ParsedCassettes(cache.mkdir(PARSED_CACHE_KEY)) if cache is not None else None

    def run(self, item: pytest.Item, request: pytest.FixtureRequest, agent: PreparedAgent | None = None) -> None:
        """Run ``item``'s cell (``agent``: a ``PreparedAgent``, for a ``kylecode_cell`` test)."""
        cell = item.stash[CELL]
        recording = records(self.settings.record)
        try:
            with _time_limit(self.settings.cell_timeout, item.nodeid):
                run = execute_cell(
                    cell,
                    cassettes=self.settings.cassettes,
                    record=self.settings.record,
                    upstream_kind=self.settings.upstream,
                    upstream=self._upstream,
                    driver=driver_for(cell, agent, allow_hosts=self.settings.allow_hosts),
                    workspaces=self._workspaces,
                    match=self.settings.match,
                    parsed=self._parsed,
                )
        except LiveBudgetExhausted as exc:
            # Stop recording: every further cell would be refused too.
            item.session.shouldstop = "kylecode: live call budget exhausted"
            self._kept(item, cell, "live call budget exhausted", recording)
            raise CellFailure(
                f"{exc}\nno cassette was written for this cell; raise the cap with "
                "--kylecode-max-live-calls N and re-record it"
            ) from None
        except LiveKeyMissing as exc:
            self._kept(item, cell, _first_line(exc), recording)
            raise CellFailure(
                f"{exc}; the cassette was left as it was\n"
                f"re-record this cell once it is set: {self.rerecord_command(item)}"
            ) from None
        except ReplayAborted as exc:
            raise CellFailure(f"replay miss: {exc}\n{self._rerecord_advice(item)}") from None
        except CassetteError as exc:  # missing, stale or corrupt: the cassette is what is wrong
            raise CellFailure(f"{exc}\n{self._rerecord_advice(item)}") from None
        except BaseException as exc:
            self._kept(item, cell, _first_line(exc) or type(exc).__name__, recording)
            raise
        try:
            self._judge(item, request, cell, run)
        finally:
            self._workspaces.release(run.workspace)

    # -- the verdict, then what it allows to be written -------------------------------------------

    def _judge(self, item: pytest.Item, request: pytest.FixtureRequest, cell: Cell, run: CellRun) -> None:
        """A recording is written only for a cell that passed (or with ``--kylecode-record-failed``),
        and under ``--snapshot-update`` the metrics snapshot of a failed recording is left alone
        too, so re-recording against a broken upstream changes nothing on disk."""
        result = run.result
        metrics = result.metrics or {}
        details: JSONObject = {
            "outcome": result.outcome,
            "steps": result.steps,
            "calls": metrics.get("summary", {}).get("calls"),
            "metrics": headline_metrics(metrics),
            "transcript": transcript_excerpt(result.conversation),
        }
        verdict = judge(cell, run, where=self._where)
        recording = run.cassettes.recording
        updating = bool(getattr(self.config.option, "update_snapshots", False))
        take_snapshot = cell.scenario.snapshot
        if recording and updating:
            # The snapshot is written by the assertion itself: the cassette goes first, and a
            # recording that failed (or whose write was refused) leaves the snapshot alone too.
            if verdict.passed or self.settings.record_failed:
                take_snapshot = self._commit(run, verdict) and take_snapshot
            else:
                take_snapshot = False
        if take_snapshot:
            problem = _assert_snapshot(request, metrics)
            if problem:
                verdict.add("metrics snapshot", problem.splitlines())
        if recording and not updating and (verdict.passed or self.settings.record_failed):
            self._commit(run, verdict)
        if run.cassettes.changed:
            details["cassette_changed"] = str(run.cassettes.path)
        elif recording and not verdict.passed and not self.settings.record_failed:
            details["cassette_kept"] = str(run.cassettes.path)
            details["kept_reason"] = _failure_reason(result, verdict)
        if not verdict.passed or self.settings.keep_runs:
            runlog = result.runlog
            if runlog is not None:
                try:
                    details["run_dir"] = str(runlog.write(self.settings.runs, cell.scenario.name, cell.id))
                except OSError as exc:  # a full disk must not hide why the cell failed
                    details["run_dir_error"] = f"{exc.strerror or exc} ({exc.filename or self.settings.runs})"
        item.user_properties.append(("kylecode_run", details))
        if not verdict.passed:
            raise CellFailure(self._report(item, cell, run, verdict, details))

    def _commit(self, run: CellRun, verdict: Verdict) -> bool:
        """Write the recorded cassette; False (and a section saying why) when the write is refused."""
        try:
            run.cassettes.commit()
        except CassetteRefused as exc:
            verdict.add("cassette", [str(exc)])
            return False
        return True

    def _kept(self, item: pytest.Item, cell: Cell, reason: str, recording: bool) -> None:
        """A recording cell failed before its verdict: its cassette stays as it was (the summary says so)."""
        if recording:
            path = self.settings.cassettes / cell.cassette_relpath
            item.user_properties.append(("kylecode_run", {"cassette_kept": str(path), "kept_reason": reason}))

    # -- the failure report ------------------------------------------------------------------------

    def _report(self, item: pytest.Item, cell: Cell, run: CellRun, verdict: Verdict, details: JSONObject) -> str:
        result = run.result
        summary = (result.metrics or {}).get("summary", {})
        # The error as the run gave it: a category and its message, or (an agent that failed on an
        # exception of its own, with no provider error behind it) the message alone.
        described = ": ".join(part for part in (result.error_category, result.error_message) if part)
        error = f" ({described})" if described and result.outcome != "completed" else ""
        lines = [
            f"cell {cell.scenario.name}[{cell.id}] did not behave as expected",
            f"run: outcome {result.outcome}{error}; steps {result.steps}; final route {result.final_route}; "
            f"calls {summary.get('calls')} (errors {summary.get('errors')}), retries {summary.get('retries')}, "
            f"fallbacks {summary.get('fallbacks')}; tools {result.tool_sequence}",
            *verdict.sections,
        ]
        if "run_dir" in details:
            lines.append(f"run directory: {details['run_dir']}  (vendor bundle: kylecode bundle {details['run_dir']})")
        elif "run_dir_error" in details:
            lines.append(f"run directory: not written: {details['run_dir_error']}")
        if run.cassettes.recording:
            lines.append(
                "the cassette and the metrics snapshot were left as they were; once the cause is fixed, "
                f"re-record this cell: {self.rerecord_command(item)}"
            )
        elif not verdict.traffic_clean:
            # Traffic that replayed cleanly needs no re-recording: a failed expectation names its line.
            lines.append(self._rerecord_advice(item))
        return "\n".join(lines)

    def _rerecord_advice(self, item: pytest.Item) -> str:
        return (
            f"re-record this cell: {self.rerecord_command(item)}\n"
            f"re-record the whole scenario: {self.rerecord_command(item, whole_scenario=True)}"
        )

    def rerecord_command(self, item: pytest.Item, *, whole_scenario: bool = False) -> str:
        """The one command that re-records the cell (or its whole scenario file) and accepts its
        new metrics snapshot, so that replaying right after passes."""
        parts = ["env", "-u", "CI", "pytest", "--kylecode-matrix", "--kylecode-record=rewrite", "--snapshot-update"]
        for option in ("kylecode_scenarios", "kylecode_cassettes"):
            value = self.config.getoption(option)
            if value:
                parts.append(f"--{option.replace('_', '-')}={value}")
        if self.settings.upstream == "live":
            parts.append("--kylecode-upstream=live")
        parts.append(item.nodeid.split("::", 1)[0] if whole_scenario else item.nodeid)
        return shlex.join(parts)

    # -- upstreams ---------------------------------------------------------------------------------

    def _upstream(self, cell: Cell, clock: Clock) -> httpx.BaseTransport:
        if self.settings.upstream == "emulator":
            return emulator_upstream(cell, clock)
        if self._live is None:
            self._live = LiveTransport(self.settings.max_live_calls, counter=self._live_counter())
        return _Shared(self._live)

    def _live_counter(self) -> Path | None:
        """Under xdist, the file in which all workers of this run count their live calls."""
        workerinput = getattr(self.config, "workerinput", None)
        if not workerinput:
            return None
        return Path(tempfile.gettempdir()) / f"kylecode-live-calls-{workerinput['testrunuid']}"

    def close(self) -> None:
        self._workspaces.close()
        if self._live is not None:
            self._live.close()


class _Shared(httpx.BaseTransport):
    """The session's live transport lent to one cell: closing the cell's client must not close it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)


def _assert_snapshot(request: pytest.FixtureRequest, metrics: JSONObject) -> str | None:
    from pytest_kylecode.snapshot import corruption, metrics_snapshot, snapshot_text

    snapshot = metrics_snapshot(request)
    if snapshot == metrics:
        return None
    # syrupy's own diff is coloured per character for a terminal; a unified diff reads in any log.
    location = Path(snapshot.extension.get_location(test_location=snapshot.test_location, index=0))
    if not location.exists():
        return f"no stored snapshot at {location} (create it with --snapshot-update)"
    text = location.read_text(encoding="utf-8", errors="replace")
    corrupt = corruption(text)
    if corrupt:
        return (
            f"{location} is corrupt: {corrupt}; restore it from version control, or write it anew "
            "with --snapshot-update"
        )
    stored = text.splitlines()
    now = snapshot_text(metrics).splitlines()
    diff = "\n".join(difflib.unified_diff(stored, now, "stored snapshot", "this run", lineterm="", n=1))
    return f"{location} differs (accept with --snapshot-update):\n{diff}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0]


def _failure_reason(result: AgentRun, verdict: Verdict) -> str:
    """Why a recording cell failed, in a few words: the run's error, else the first broken check."""
    if result.error_category:
        return f"{result.error_category}: {result.error_message}" if result.error_message else result.error_category
    first = verdict.sections[0].split("\n")
    return (first[1] if len(first) > 1 else first[0]).strip()


@contextmanager
def _time_limit(seconds: float, nodeid: str) -> Iterator[None]:
    """Bound a cell's wall time with SIGALRM (main thread only; elsewhere unbounded)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: FrameType | None) -> None:
        raise CellTimeout(f"{nodeid} exceeded --kylecode-cell-timeout={seconds:g}s of wall time")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
