"""Cells and bound contexts for the byo tests: a scenario file, its cell, the cell's stack."""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path
from typing import Any

from agent_runtime.clock import VirtualClock
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from pytest_kylecode.byo.context import CellContext, CellWiring
from pytest_kylecode.byo.metering import MeteringTransport, TrafficMeter
from pytest_kylecode.emulator import EmulatorTransport
from pytest_kylecode.faults.transport import FaultTransport
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.scenarios.scenario import Cell

SCENARIO = """
name: demo
task: Write notes.txt, then finish.
workspace: {README.md: "# demo\\n"}
agent:
  max_steps: 5
  failover: [openai/gpt-4.1-mini]
  timeouts: {connect_s: 5, first_byte_s: 60, idle_s: 20}
script:
  - tool_calls: [{name: write_file, arguments: {path: notes.txt, content: "hi\\n"}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix:
  provider: [{provider}]
  streaming: [{streaming}]
  tools: [native]
  fault: [{fault}]
"""


def make_cell(
    tmp_path: Path, provider: str = "openai/gpt-4o-mini", streaming: bool = True, fault: str = "none"
) -> Cell:
    path = tmp_path / "demo.yaml"
    text = SCENARIO.replace("{provider}", provider).replace("{streaming}", str(streaming).lower())
    path.write_text(textwrap.dedent(text.replace("{fault}", fault)).lstrip(), encoding="utf-8")
    return expand(load_scenario(path)).cells[0]


class Bound:
    """A CellContext bound to the emulator behind the cell's fault, on a virtual clock."""

    def __init__(self, tmp_path: Path, *, live: bool = False, env: dict[str, str] | None = None, **cell: Any) -> None:
        self.cell = make_cell(tmp_path, **cell)
        config = self.cell.scenario.agent_config.with_overrides(
            route=self.cell.provider, streaming=self.cell.streaming, tool_mode=self.cell.tool_mode
        )
        self.clock = VirtualClock()
        self.fault = FaultTransport(
            EmulatorTransport(self.cell.scenario.script, clock=self.clock),
            self.cell.fault,
            primary=self.cell.provider,
            clock=self.clock,
            timeouts=config.timeouts,
        )
        self.collector = ProviderMetricsCollector()
        self.runlog = RunLog()
        self.meter = TrafficMeter(self.clock, self.collector, runlog=self.runlog)
        self.ctx = CellContext(self.cell, config)
        workspace = tmp_path / "ws"
        workspace.mkdir(exist_ok=True)
        self.ctx.attach(
            CellWiring(
                workspace=workspace,
                clock=self.clock,
                transport=MeteringTransport(self.fault, self.meter),
                env=env or {},
                live=live,
            )
        )

    def waits(self) -> list[float]:
        """Clock seconds between the end of each call and the start of the next."""
        attempts = [a.record for a in self.runlog.attempts]
        return [round(b.started - (a.started + a.latency_ms / 1000), 6) for a, b in itertools.pairwise(attempts)]

    @property
    def metrics(self) -> dict[str, Any]:
        return self.collector.snapshot()

    def __enter__(self) -> Bound:
        return self

    def __exit__(self, *exc: object) -> None:
        self.ctx.detach()
        self.fault.close()
