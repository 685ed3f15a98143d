"""pytest's own ``TestReport`` objects for the cells of a small scenario, as a worker sends them to
the xdist controller, and a ``MatrixReport`` that saw every outcome a cell can have."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from pytest_kylecode.report import MatrixReport
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.scenarios.scenario import Cell

SCENARIO = """
name: demo
task: go
script: [{text: hi}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true, false]
  fault: [none, stall]
"""

ROOT = Path("/home/dev/project")  # the project root the cells' paths are relative to


def write_scenarios(tmp_path: Path, text: str = SCENARIO) -> Path:
    root = tmp_path / "scenarios"
    root.mkdir()
    (root / "demo.yaml").write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return root


def cells_of(scenarios: Path) -> dict[str, Cell]:
    """The six cells of the demo matrix by id (stall without streaming is not applicable)."""
    return {cell.id: cell for cell in expand(load_scenario(scenarios / "demo.yaml")).cells}


def report(
    cell: Cell, when: str, outcome: str, longrepr: Any = None, details: dict[str, Any] | None = None
) -> pytest.TestReport:
    props: list[tuple[str, object]] = [("kylecode_cell", cell.report_key())]
    if details:
        props.append(("kylecode_run", details))
    nodeid = f"scenarios/demo.yaml::demo[{cell.id}]"
    return pytest.TestReport(
        nodeid, ("scenarios/demo.yaml", 0, nodeid), {}, outcome, longrepr, when, duration=0.25, user_properties=props
    )


def ran(matrix: MatrixReport, cell: Cell, call: str = "passed", longrepr: Any = None, **details: Any) -> None:
    """One cell's setup, call and teardown reports."""
    matrix.add(report(cell, "setup", "passed"))
    matrix.add(report(cell, "call", call, longrepr, details))
    matrix.add(report(cell, "teardown", "passed"))


def metrics(calls: int, retries: int = 0, latency_ms: float | None = 120.0) -> dict[str, Any]:
    return {
        "calls": calls,
        "errors": 0,
        "retries": retries,
        "fallbacks": 0,
        "latency_ms": latency_ms,
        "input_tokens": 100 * calls,
        "output_tokens": 10 * calls,
    }


FAILURE = f"""[gw1] linux -- Python 3.11.7 /venv/bin/python
cell demo[openai/gpt-4o-mini-stream-native-stall] did not behave as expected
metrics snapshot:
  {ROOT}/scenarios/__snapshots__/demo/x.json differs (accept with --snapshot-update):
  --- stored snapshot
  +++ this run
  -    "calls": 2
  +    "calls": 3
expectations (expected vs actual):
  steps: expected 3, got 2  (expected by scenarios/demo.yaml:9)
run directory: {ROOT}/.kylecode/runs/demo_stall"""


def every_outcome(cells: dict[str, Cell]) -> MatrixReport:
    """Every outcome a cell can have, one cell each (stall cells: one failed, one xfailed)."""
    matrix = MatrixReport(ROOT)
    ran(matrix, cells["openai/gpt-4o-mini-stream-native-none"], metrics=metrics(2))
    ran(matrix, cells["openai/gpt-4o-mini-nostream-native-none"], metrics=metrics(2))
    ran(
        matrix,
        cells["openai/gpt-4o-mini-stream-native-stall"],
        "failed",
        FAILURE,
        run_dir=f"{ROOT}/.kylecode/runs/demo_stall",
        error_message="key sk-ant-api03-SECRETSECRETSECRET0000 refused",
        metrics=metrics(3, retries=1),
        transcript=[
            {"role": "user", "text": "go"},
            {"role": "assistant", "text": "<img src=x onerror=alert(1)>"},
            {"role": "tool", "text": "read_file: OPENAI_API_KEY=sk-proj-SECRETSECRETSECRET0000"},
        ],
    )
    skipped = cells["anthropic/claude-sonnet-4-5-stream-native-none"]
    matrix.add(report(skipped, "setup", "skipped", ("scenarios/demo.yaml", 0, "Skipped: not today")))
    matrix.add(report(skipped, "teardown", "passed"))
    xfailed = report(cells["anthropic/claude-sonnet-4-5-stream-native-stall"], "call", "skipped", "known")
    xfailed.wasxfail = "known to differ"  # what pytest's skipping plugin sets on an xfailed call
    matrix.add(report(cells["anthropic/claude-sonnet-4-5-stream-native-stall"], "setup", "passed"))
    matrix.add(xfailed)
    broken = cells["anthropic/claude-sonnet-4-5-nostream-native-none"]
    matrix.add(report(broken, "setup", "passed"))
    matrix.add(report(broken, "call", "passed"))
    matrix.add(report(broken, "teardown", "failed", "teardown blew up"))
    return matrix
