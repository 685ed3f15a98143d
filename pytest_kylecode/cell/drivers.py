"""Which agent runs a cell: one ``AgentDriver`` per kind of agent.

- ``RuntimeDriver``: ``agent_runtime``, the default;
- ``byo.driver.ByoDriver``: a user's own agent, named by the scenario (``agent: {factory}``) or
  given by a ``kylecode_cell`` test (its body);
- ``process.driver.ProcessDriver``: any program, named by the scenario (``agent: {command}``).

Every driver runs on the same ``CellStack`` and returns the same ``AgentRun`` (metrics snapshot,
run log), so expectations, snapshots, run directories and the report see no difference.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from agent_runtime.clock import Clock
from agent_runtime.runner import AgentRun, run_agent
from pytest_kylecode.cell.stack import AgentDriver, CellStack
from pytest_kylecode.scenarios.scenario import Cell

if TYPE_CHECKING:
    from pytest_kylecode.byo.driver import PreparedAgent

__all__ = ["RuntimeDriver", "driver_for"]


@dataclass(frozen=True, slots=True)
class RuntimeDriver:
    """``agent_runtime`` on the stack. A replay miss aborts the run: the runtime would classify a
    transport error as a connection failure, retry and fall back, and bury the first miss."""

    aborts_on_miss: bool = True

    def fault_clock(self, clock: Clock) -> Clock:
        return clock

    def run(self, stack: CellStack, workspace: Path) -> AgentRun:
        with httpx.Client(transport=stack.transport) as http:
            return run_agent(
                stack.config, stack.cell.scenario.task, workspace, http=http, clock=stack.clock, env=stack.env
            )


def driver_for(cell: Cell, agent: PreparedAgent | None = None, *, allow_hosts: tuple[str, ...] = ()) -> AgentDriver:
    """The driver of ``cell``: the test body given as ``agent``, the scenario's program or factory,
    or the runtime. ``allow_hosts``: what a user's agent may still reach beyond loopback while its
    cell replays."""
    program = cell.scenario.agent_program
    if agent is None and program is not None:
        from pytest_kylecode.process.driver import ProcessDriver

        return ProcessDriver(program, cell.scenario.path.parent)
    if agent is not None or cell.scenario.agent_factory:
        from pytest_kylecode.byo.driver import ByoDriver

        return ByoDriver.for_cell(cell, agent, allow_hosts)
    return RuntimeDriver()
