"""One cell's transport stack, and running an agent on it (the pytest-free core).

    agent's client  ->  FaultTransport (the cell's fault)  ->  CassetteTransport (replay / record)
        ->  emulator | live providers (only when recording)

Faults sit above the cassette layer in every mode, so cassettes hold only genuine upstream
traffic and a fault cell replays exactly what it recorded. ``execute_cell`` builds the stack,
gives the agent (``cell.drivers``) a workspace holding exactly the scenario's files, and returns
what happened; it raises the failure vocabulary (``pytest_kylecode.failures``) and formats no
advice: the cell runner does, and so does ``kylecode cassettes check``, which uses it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

import httpx

from agent_runtime.clock import Clock, FastForwardClock, VirtualClock
from agent_runtime.config import AgentConfig
from agent_runtime.observe.redact import key_env_names
from agent_runtime.paths import inside
from agent_runtime.providers import parse_route
from agent_runtime.runner import AgentRun
from pytest_kylecode.cassettes.matching import MatchRules
from pytest_kylecode.cassettes.modes import RecordMode, Upstream
from pytest_kylecode.cassettes.parsed_cache import ParsedCassettes
from pytest_kylecode.cassettes.store import CassetteSession, CassetteSpec
from pytest_kylecode.failures import LiveKeyMissing
from pytest_kylecode.faults.transport import FaultTransport
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.workspaces import WorkspacePool, new_workspace, remove_tree

__all__ = ["CellRun", "CellStack", "UpstreamFactory", "emulator_upstream", "execute_cell"]

# The transport a recording asks: the emulator playing the cell's script, or the live providers.
UpstreamFactory = Callable[[Cell, Clock], httpx.BaseTransport]


@dataclass(frozen=True, slots=True)
class CellStack:
    """What an agent gets to run one cell: its config (the matrix axes applied), clock,
    environment, and ``transport``, the top of the stack its HTTP clients must use."""

    cell: Cell
    config: AgentConfig
    clock: Clock
    env: dict[str, str]
    live: bool
    cassettes: CassetteSession
    transport: FaultTransport


class AgentDriver(Protocol):
    """What runs the agent of a cell on its stack (``cell.drivers`` picks one per cell).

    ``aborts_on_miss``: a replay miss stops the run at once (``ReplayAborted``, for an agent that
    would retry a transport error and bury the miss), rather than reaching the agent as the
    ``ReplayMiss`` transport error a dead upstream would be."""

    @property
    def aborts_on_miss(self) -> bool: ...

    def fault_clock(self, clock: Clock) -> Clock:
        """The clock the cell's fault waits on (its delays, stalls): ``clock`` for an agent on the
        cell clock; one that also waits for real for an agent on the wall clock (a program)."""
        ...

    def run(self, stack: CellStack, workspace: Path) -> AgentRun: ...


@dataclass(slots=True)
class CellRun:
    result: AgentRun
    cassettes: CassetteSession
    workspace: Path
    cassette_problems: list[str]


def execute_cell(
    cell: Cell,
    *,
    cassettes: Path,
    record: RecordMode,
    upstream_kind: Upstream,
    upstream: UpstreamFactory,
    driver: AgentDriver,
    workspaces: WorkspacePool | None = None,
    match: MatchRules | None = None,
    parsed: ParsedCassettes | None = None,
) -> CellRun:
    """Run ``cell`` with ``driver`` through its cassette (under ``cassettes``, in mode ``record``)
    and its fault, in a workspace holding exactly the scenario's files: a fresh one the caller
    removes, or one of ``workspaces`` the caller gives back with ``workspaces.release``; the
    cassette is read through ``parsed`` when given (parsed once, not once per run).

    ``upstream_kind`` (``emulator`` or ``live``) is what a recording is made from; a live one runs
    on a ``FastForwardClock`` and needs the route's key, checked before any request. ``match`` is
    what a request is compared on before the scenario's own ``match:`` (default: the shipped
    defaults; under pytest, with the ini keys)."""
    live = upstream_kind == "live" and record != "none"
    # Live traffic takes the time it takes; synthetic waits (fault delays, Retry-After, backoff)
    # cost no wall time on either clock.
    clock: Clock = FastForwardClock() if live else VirtualClock()
    env = runtime_env(live)
    config = sandboxed(cell.agent_config(), live)
    if live:
        require_key(cell, env)
    spec = CassetteSpec(
        inside(cassettes, cell.cassette_relpath),
        record,
        {
            "scenario": cell.scenario.name,
            "cell": cell.id,
            "scenario_hash": cell.scenario.content_hash,
            "upstream": upstream_kind,
        },
        (MatchRules.defaults() if match is None else match).extended(cell.scenario.match),
    )
    workspace = (
        new_workspace(cell.scenario.workspace) if workspaces is None else workspaces.acquire(cell.scenario.workspace)
    )
    session = CassetteSession(
        spec, clock=clock, workspace=workspace, env=env, upstream=lambda: upstream(cell, clock), parsed=parsed
    )
    try:
        inner = session.open(abort_on_miss=driver.aborts_on_miss)
        transport = FaultTransport(
            inner, cell.fault, primary=cell.provider, clock=driver.fault_clock(clock), timeouts=config.timeouts
        )
        stack = CellStack(cell, config, clock, env, live, session, transport)
        with transport:
            result = driver.run(stack, workspace)
        problems = session.finish()
    except BaseException:
        give_back(workspace, workspaces)
        raise
    return CellRun(result, session, workspace, problems)


def sandboxed(config: AgentConfig, live: bool) -> AgentConfig:
    """``config`` with ``run_shell`` sandboxed unless the scenario said otherwise: in replay the
    commands come from a cassette and, recording from the emulator, from the scenario's script,
    both files anyone may have edited (docs/trust.md). Recording live, the model's own commands
    run as ``kylecode run`` runs them."""
    shell = config.tools.run_shell
    if shell.sandbox is not None or live:
        return config
    return replace(config, tools=replace(config.tools, run_shell=replace(shell, sandbox=True)))


def give_back(workspace: Path, workspaces: WorkspacePool | None) -> None:
    if workspaces is None:
        remove_tree(workspace)
    else:
        workspaces.release(workspace)


def require_key(cell: Cell, env: dict[str, str]) -> None:
    """Before any request to a live provider: the cell's route has its key, or a base URL pointing
    it elsewhere. Without it a keyless request reaches the real host and its 401 is all there is
    to record. (A failover route without a key is refused call by call: ``LiveTransport``.)"""
    provider = parse_route(cell.provider).provider
    if not env.get(provider.key_env) and not env.get(provider.base_url_env):
        raise LiveKeyMissing(
            f"recording {cell.provider} from the live provider needs {provider.key_env} in the "
            f"environment (or {provider.base_url_env} pointing elsewhere): no request was sent"
        )


def runtime_env(live: bool) -> dict[str, str]:
    """The environment the agent sees: provider keys only when talking to live providers."""
    env = dict(os.environ)
    if not live:
        for name in key_env_names():
            env.pop(name, None)
    return env


def emulator_upstream(cell: Cell, clock: Clock) -> httpx.BaseTransport:
    from pytest_kylecode.emulator.transport import EmulatorTransport

    return EmulatorTransport(cell.scenario.script, clock=clock)
