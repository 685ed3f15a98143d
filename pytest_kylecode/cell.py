"""Running one matrix cell end to end.

    cassette / emulator / live  ->  CassetteTransport  ->  FaultTransport  ->  httpx.Client
        -> agent_runtime.runner.run_agent on a VirtualClock
        -> replay checks -> metrics snapshot (syrupy) -> expectations -> report details

Faults sit above the cassette layer in every mode, so cassettes hold only
genuine upstream traffic and a fault cell replays exactly what it recorded.
``execute_cell`` is the pytest-free core (``kylecode cassettes check`` uses it
too); ``CellRunner`` adds what pytest needs. The run directory is written only
for a failing cell (or with ``--kylecode-keep-runs``): recording it in memory is
cheap, writing it is not.
"""

from __future__ import annotations

import difflib
import os
import shlex
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime.clock import Clock, FastForwardClock, VirtualClock
from agent_runtime.providers import parse_route
from agent_runtime.observe.redact import key_env_names

from pytest_kylecode.cassettes.store import CassetteSession, UpstreamFactory
from pytest_kylecode.cassettes.transport import ReplayAborted
from pytest_kylecode.expect import check, invariants, measure
from pytest_kylecode.faults.transport import FaultTransport
from pytest_kylecode.options import Settings
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.workspaces import WorkspacePool, new_workspace


class CellFailure(AssertionError):
    """A cell did not behave as expected; ``str()`` is the whole readable report."""


class CellTimeout(BaseException):
    """Raised by the wall-time alarm. A BaseException, so that no handler in the runtime (a tool
    turning its exceptions into error results, say) can swallow it and let the cell run on."""


@dataclass(slots=True)
class CellRun:
    result: Any  # agent_runtime.runner.AgentRun
    cassettes: CassetteSession
    workspace: Path
    cassette_problems: list[str]


def execute_cell(cell: Cell, settings: Settings, *, upstream: UpstreamFactory, rerecord: str,
                 agent: Any = None, workspaces: WorkspacePool | None = None) -> CellRun:
    """Run ``cell`` through its cassette and its fault in a workspace holding exactly the
    scenario's files: a fresh one the caller removes, or one of ``workspaces`` the caller
    gives back with ``workspaces.release``.

    The agent is ``agent_runtime``, unless the scenario names a factory (``agent: {factory}``)
    or ``agent`` is given (a ``kylecode_cell`` test): then ``byo.runner`` runs the user's agent
    over the same transport."""
    from agent_runtime.runner import run_agent

    live = settings.upstream == "live" and settings.record != "none"
    # Live traffic takes the time it takes; synthetic waits (fault delays, Retry-After, backoff)
    # cost no wall time on either clock.
    clock: Clock = FastForwardClock() if live else VirtualClock()
    env = runtime_env(live)
    config = cell.scenario.agent_config.with_overrides(
        route=cell.provider, streaming=cell.streaming, tool_mode=cell.tool_mode)
    if live:
        _require_key(cell, env, rerecord)
    workspace = make_workspace(cell) if workspaces is None else workspaces.acquire(cell.scenario.workspace)
    cassettes = CassetteSession(settings, cell, clock=clock, workspace=workspace, env=env,
                                upstream=upstream, rerecord=rerecord)
    byo = agent is not None or bool(cell.scenario.agent_factory)
    try:
        transport = FaultTransport(cassettes.open(abort_on_miss=not byo), cell.fault, primary=cell.provider,
                                   clock=clock, timeouts=config.timeouts)
        if byo:
            from pytest_kylecode.byo.driver import run_byo_agent

            with transport:
                result = run_byo_agent(cell, config, transport, clock=clock, workspace=workspace, env=env,
                                       live=live, agent=agent)
        else:
            with httpx.Client(transport=transport) as http:
                result = run_agent(config, cell.scenario.task, workspace, http=http, clock=clock, env=env)
        problems = cassettes.finish()
    except ReplayAborted as exc:
        _give_back(workspace, workspaces)
        raise CellFailure(f"replay miss: {exc}\nre-record this cell: {rerecord}") from None
    except BaseException:
        _give_back(workspace, workspaces)
        raise
    return CellRun(result, cassettes, workspace, problems)


def _give_back(workspace: Path, workspaces: WorkspacePool | None) -> None:
    if workspaces is None:
        shutil.rmtree(workspace, ignore_errors=True)
    else:
        workspaces.release(workspace)


def _require_key(cell: Cell, env: dict[str, str], rerecord: str) -> None:
    """Before any request to a live provider: the cell's route has its key, or a base URL pointing
    it elsewhere. Without it a keyless request reaches the real host and its 401 is all there is
    to record. (A failover route without a key is refused call by call: ``LiveTransport``.)"""
    provider = parse_route(cell.provider).provider
    if not env.get(provider.key_env) and not env.get(provider.base_url_env):
        raise CellFailure(f"recording {cell.provider} from the live provider needs {provider.key_env} in the "
                          f"environment (or {provider.base_url_env} pointing elsewhere): no request was sent and "
                          f"the cassette was left as it was\nre-record this cell once it is set: {rerecord}")


def make_workspace(cell: Cell) -> Path:
    return new_workspace(cell.scenario.workspace)


def runtime_env(live: bool) -> dict[str, str]:
    """The environment the runtime sees: provider keys only when talking to live providers."""
    env = dict(os.environ)
    if not live:
        for name in key_env_names():
            env.pop(name, None)
    return env


def emulator_upstream(cell: Cell, clock: Clock) -> httpx.BaseTransport:
    from pytest_kylecode.emulator.transport import EmulatorTransport

    return EmulatorTransport(cell.scenario.script, clock=clock)


class CellRunner:
    """The pytest side of a cell: time limit, snapshot, expectations, kept run directory, report details."""

    def __init__(self, settings: Settings, config: pytest.Config) -> None:
        self.settings = settings
        self.config = config
        self._live: httpx.BaseTransport | None = None
        self._workspaces = WorkspacePool()

    def run(self, item: Any, request: pytest.FixtureRequest, agent: Any = None) -> None:
        cell: Cell = item.cell
        from pytest_kylecode.cassettes.live import LiveBudgetExhausted, LiveKeyMissing

        recording = self.settings.record not in ("none", "off")
        try:
            with _time_limit(self.settings.cell_timeout, item.nodeid):
                run = execute_cell(cell, self.settings, upstream=self._upstream,
                                   rerecord=self.rerecord_command(item) + "\nre-record the whole scenario: "
                                   + self.rerecord_command(item, whole_scenario=True),
                                   agent=agent, workspaces=self._workspaces)
        except LiveBudgetExhausted as exc:
            # Stop recording: every further cell would be refused too.
            item.session.shouldstop = "kylecode: live call budget exhausted"
            self._kept(item, cell, "live call budget exhausted", recording)
            raise CellFailure(f"{exc}\nno cassette was written for this cell; raise the cap with "
                              "--kylecode-max-live-calls N and re-record it") from None
        except LiveKeyMissing as exc:
            self._kept(item, cell, _first_line(exc), recording)
            raise CellFailure(f"{exc}\nno cassette was written for this cell") from None
        except BaseException as exc:
            self._kept(item, cell, _first_line(exc) or type(exc).__name__, recording)
            raise
        try:
            self._judge(item, request, run)
        finally:
            self._workspaces.release(run.workspace)

    def _kept(self, item: Any, cell: Cell, reason: str, recording: bool) -> None:
        """A recording cell failed before its verdict: its cassette stays as it was (the summary says so)."""
        if recording:
            path = self.settings.cassettes / cell.cassette_relpath
            item.user_properties.append(("kylecode_run", {"cassette_kept": str(path), "kept_reason": reason}))

    def _judge(self, item: Any, request: pytest.FixtureRequest, run: CellRun) -> None:
        """The verdict, then what it allows to be written.

        A recording is written only for a cell that passed (or with ``--kylecode-record-failed``),
        and under ``--snapshot-update`` the metrics snapshot of a failed recording is left alone
        too, so re-recording against a broken upstream changes nothing on disk."""
        cell: Cell = item.cell
        result = run.result
        metrics = result.metrics or {}
        details: dict[str, Any] = {"outcome": result.outcome, "steps": result.steps,
                                   "calls": metrics.get("summary", {}).get("calls")}
        sections: list[str] = []
        if run.cassette_problems:
            title = "recording" if run.cassettes.recording else "replay"
            sections.append(f"{title}:\n" + "\n".join(_indent(p) for p in run.cassette_problems))
        broken = invariants(result, metrics)
        if broken:
            sections.append("invariants:\n" + "\n".join(f"  {p}" for p in broken))
        mismatches = check(cell.expect, measure(result, metrics), metrics, run.workspace)
        if mismatches:
            sections.append("expectations (expected vs actual):\n" + "\n".join(
                f"  {m}" + (f"  (expected by {self._where(cell.expect_where[m.key])})"
                            if m.key in cell.expect_where else "")
                for m in mismatches))
        recording = run.cassettes.recording
        updating = bool(getattr(self.config.option, "update_snapshots", False))
        take_snapshot = cell.scenario.snapshot
        if recording and updating:
            # The snapshot is written by the assertion itself: the cassette goes first, and a
            # recording that failed (or whose write was refused) leaves the snapshot alone too.
            if not sections or self.settings.record_failed:
                take_snapshot = self._commit(run, sections) and take_snapshot
            else:
                take_snapshot = False
        if take_snapshot:
            problem = _assert_snapshot(request, metrics)
            if problem:
                sections.append("metrics snapshot:\n" + _indent(problem))
        if recording and not updating and (not sections or self.settings.record_failed):
            self._commit(run, sections)
        if run.cassettes.changed:
            details["cassette_changed"] = str(run.cassettes.path)
        elif recording and sections and not self.settings.record_failed:
            details["cassette_kept"] = str(run.cassettes.path)
            details["kept_reason"] = _failure_reason(result, sections)
        if sections or self.settings.keep_runs:
            runlog = getattr(result, "runlog", None)
            if runlog is not None:
                details["run_dir"] = str(runlog.write(self.settings.runs, cell.scenario.name, cell.id))
        item.user_properties.append(("kylecode_run", details))
        if sections:
            advice = self._advice(item, run, replay_clean=not run.cassette_problems, recorded=recording)
            raise CellFailure(self._report(item, result, metrics, sections, details, advice))

    def _where(self, where: str) -> str:
        """``file:line`` relative to the rootdir, as the user's editor and CI logs want it."""
        path, _, line = where.rpartition(":")
        try:
            return f"{Path(path).relative_to(self.settings.rootdir)}:{line}"
        except ValueError:
            return where

    def _commit(self, run: CellRun, sections: list[str]) -> bool:
        """Write the recorded cassette; False (and a section saying why) when the write is refused."""
        try:
            run.cassettes.commit()
        except CellFailure as exc:  # a key survived scrubbing: the write is refused, the cell fails
            sections.append("cassette:\n" + _indent(str(exc).split("\nre-record")[0]))
            return False
        return True

    def _advice(self, item: Any, run: CellRun, *, replay_clean: bool, recorded: bool) -> list[str]:
        """What to do next: re-record only when the traffic is what is wrong; an expectation that
        failed on cleanly replayed traffic is the scenario's to change (its line is named above)."""
        if recorded:
            return ["the cassette and the metrics snapshot were left as they were; once the cause is fixed, "
                    f"re-record this cell: {self.rerecord_command(item)}"]
        if replay_clean:
            return []
        return [f"re-record this cell: {self.rerecord_command(item)}",
                f"re-record the whole scenario: {self.rerecord_command(item, whole_scenario=True)}"]

    def _report(self, item: Any, result: Any, metrics: dict[str, Any], sections: list[str],
                details: dict[str, Any], advice: list[str]) -> str:
        cell: Cell = item.cell
        summary = metrics.get("summary", {})
        error = f" ({result.error_category}: {result.error_message})" if result.error_category else ""
        lines = [
            f"cell {cell.scenario.name}[{cell.id}] did not behave as expected",
            f"run: outcome {result.outcome}{error}; steps {result.steps}; final route {result.final_route}; "
            f"calls {summary.get('calls')} (errors {summary.get('errors')}), retries {summary.get('retries')}, "
            f"fallbacks {summary.get('fallbacks')}; tools {result.tool_sequence}",
            *sections,
        ]
        if "run_dir" in details:
            lines.append(f"run directory: {details['run_dir']}  (vendor bundle: kylecode bundle {details['run_dir']})")
        lines += advice
        return "\n".join(lines)

    def _upstream(self, cell: Cell, clock: Clock) -> httpx.BaseTransport:
        if self.settings.upstream == "emulator":
            return emulator_upstream(cell, clock)
        if self._live is None:
            from pytest_kylecode.cassettes.live import LiveTransport

            self._live = LiveTransport(self.settings.max_live_calls, counter=self._live_counter())
        return _Shared(self._live)

    def _live_counter(self) -> Path | None:
        """Under xdist, the file in which all workers of this run count their live calls."""
        workerinput = getattr(self.config, "workerinput", None)
        if not workerinput:
            return None
        return Path(tempfile.gettempdir()) / f"kylecode-live-calls-{workerinput['testrunuid']}"

    def rerecord_command(self, item: Any, *, whole_scenario: bool = False) -> str:
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


def _assert_snapshot(request: pytest.FixtureRequest, metrics: dict[str, Any]) -> str | None:
    from pytest_kylecode.snapshot import metrics_snapshot

    snapshot = metrics_snapshot(request)
    if snapshot == metrics:
        return None
    # syrupy's own diff is coloured per character for a terminal; a unified diff reads in any log.
    location = Path(snapshot.extension.get_location(test_location=snapshot.test_location, index=0))
    if not location.exists():
        return f"no stored snapshot at {location} (create it with --snapshot-update)"
    stored = location.read_text(encoding="utf-8").splitlines()
    now = snapshot.extension.serialize(metrics).splitlines()
    diff = "\n".join(difflib.unified_diff(stored, now, "stored snapshot", "this run", lineterm="", n=1))
    return f"{location} differs (accept with --snapshot-update):\n{diff}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0]


def _failure_reason(result: Any, sections: list[str]) -> str:
    """Why a recording cell failed, in a few words: the run's error, else the first broken check."""
    if result.error_category:
        return f"{result.error_category}: {result.error_message}" if result.error_message else result.error_category
    first = sections[0].split("\n")
    return (first[1].strip() if len(first) > 1 else first[0]).strip()


def _indent(text: str) -> str:
    return "\n".join(f"  {line}" for line in text.splitlines())


@contextmanager
def _time_limit(seconds: float, nodeid: str) -> Iterator[None]:
    """Bound a cell's wall time with SIGALRM (main thread only; elsewhere unbounded)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise CellTimeout(f"{nodeid} exceeded --kylecode-cell-timeout={seconds:g}s of wall time")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
