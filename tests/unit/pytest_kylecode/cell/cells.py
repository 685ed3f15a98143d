"""A one-cell scenario in a temporary project, recorded from the emulator and replayed, as the cell
runner does it: ``execute_cell`` with the runtime's driver, then ``commit`` once the cell passed."""

from __future__ import annotations

import textwrap
from pathlib import Path

from pytest_kylecode.cassettes.modes import RecordMode
from pytest_kylecode.cell.drivers import RuntimeDriver
from pytest_kylecode.cell.stack import AgentDriver, CellRun, UpstreamFactory, emulator_upstream, execute_cell
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.workspaces import WorkspacePool

# Two turns on one route: write notes.txt, then finish.
SCENARIO = """
name: demo
task: Write notes.txt, then finish.
workspace: {README.md: "# demo\\n"}
agent: {max_steps: 4, failover: []}
script:
  - tool_calls: [{name: write_file, arguments: {path: notes.txt, content: "hi\\n"}}]
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix:
  provider: [openai/gpt-4o-mini]
  streaming: [true]
  tools: [native]
  fault: [none]
expect:
  outcome: completed
  steps: 2
  files: {notes.txt: "hi\\n"}
"""


def write_cell(root: Path, text: str = SCENARIO) -> Cell:
    """Write ``text`` as ``root/demo.yaml`` and load its first cell."""
    path = root / "demo.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return expand(load_scenario(path)).cells[0]


def run_cell(
    cell: Cell,
    cassettes: Path,
    workspaces: WorkspacePool,
    record: RecordMode = "none",
    *,
    upstream: UpstreamFactory = emulator_upstream,
    driver: AgentDriver | None = None,
) -> CellRun:
    """``execute_cell`` from the emulator (when recording); the caller gives the workspace back."""
    return execute_cell(
        cell,
        cassettes=cassettes,
        record=record,
        upstream_kind="emulator",
        upstream=upstream,
        driver=driver or RuntimeDriver(),
        workspaces=workspaces,
    )


def record_cell(cell: Cell, cassettes: Path, workspaces: WorkspacePool) -> Path:
    """Record ``cell`` from the emulator and write its cassette; its path."""
    run = run_cell(cell, cassettes, workspaces, "all")
    assert run.cassette_problems == [] and run.result.outcome == "completed", run.result.error_message
    run.cassettes.commit()
    workspaces.release(run.workspace)
    return cassettes / cell.cassette_relpath
