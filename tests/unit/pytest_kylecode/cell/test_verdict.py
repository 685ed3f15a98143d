"""``judge``: the verdict on a finished cell, from real runs of a recorded cell.

Sections in the order a reader wants them (the cassette's problems, the invariants, the
expectations), each expectation naming the line of the scenario that set it; ``traffic_clean``
says whether the cassette had nothing to say, so that a failed expectation is the scenario's to
change.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from agent_runtime.clock import Clock
from pytest_kylecode.cell.drivers import driver_for
from pytest_kylecode.cell.verdict import judge, relative_where
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.workspaces import WorkspacePool

from .cells import SCENARIO, record_cell, run_cell, write_cell


@pytest.fixture
def pool() -> Iterator[WorkspacePool]:
    pool = WorkspacePool()
    yield pool
    pool.close()


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def test_a_clean_replay_that_meets_its_expectations_passes(tmp_path: Path, pool: WorkspacePool) -> None:
    cell = write_cell(tmp_path)
    record_cell(cell, tmp_path / "cassettes", pool)
    run = run_cell(cell, tmp_path / "cassettes", pool)
    verdict = judge(cell, run)
    assert verdict.passed and verdict.sections == [] and verdict.traffic_clean


def test_a_missed_expectation_names_the_line_that_set_it(tmp_path: Path, pool: WorkspacePool) -> None:
    record_cell(write_cell(tmp_path), tmp_path / "cassettes", pool)
    # The same traffic (expectations date no cassette), expected otherwise: one by the scenario's
    # own `expect`, one by an override.
    changed = (
        SCENARIO.replace("steps: 2", "steps: 3") + "overrides:\n  - when: {fault: none}\n    expect: {retries: 1}\n"
    )
    cell = write_cell(tmp_path, changed)
    run = run_cell(cell, tmp_path / "cassettes", pool)
    verdict = judge(cell, run, where=relative_where(tmp_path))
    scenario = tmp_path / "demo.yaml"
    assert not verdict.passed and verdict.traffic_clean
    assert verdict.sections == [
        "expectations (expected vs actual):\n"
        f"  steps: expected 3, got 2  (expected by demo.yaml:{line_of(scenario, '  steps: 3')})\n"
        f"  retries: expected 1, got 0  (expected by demo.yaml:{line_of(scenario, '    expect: {retries: 1}')})"
    ]
    # Without a `where`, the path is the scenario file's own.
    assert f"(expected by {scenario}:" in judge(cell, run).sections[0]


def test_an_unplayed_interaction_is_a_replay_problem(tmp_path: Path, pool: WorkspacePool) -> None:
    cell = write_cell(tmp_path)
    cassette = record_cell(cell, tmp_path / "cassettes", pool)
    data = yaml.safe_load(cassette.read_text(encoding="utf-8"))
    data["interactions"].append(data["interactions"][0])
    cassette.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    run = run_cell(cell, tmp_path / "cassettes", pool)
    verdict = judge(cell, run)
    assert not verdict.traffic_clean
    assert verdict.sections == [
        f"replay:\n  interaction 2 (POST https://api.openai.com/v1/chat/completions) of {cassette} was "
        "recorded but never requested: the runtime now makes fewer calls"
    ]


def test_an_upstream_failing_while_recording_is_a_recording_problem(tmp_path: Path, pool: WorkspacePool) -> None:
    def failing(cell: Cell, clock: Clock) -> httpx.BaseTransport:
        return httpx.MockTransport(lambda request: httpx.Response(500, json={"error": {"message": "down"}}))

    cell = write_cell(tmp_path)
    run = run_cell(cell, tmp_path / "cassettes", pool, "all", upstream=failing)
    verdict = judge(cell, run)
    assert not verdict.traffic_clean
    assert verdict.sections[0].startswith(
        "recording:\n  the upstream answered HTTP 500 to POST https://api.openai.com/v1/chat/completions, "
        "and no fault of this cell injected it"
    )
    assert verdict.sections[1].startswith("expectations (expected vs actual):\n  outcome: expected 'completed'")


AGENT = """
from pytest_kylecode.byo import AgentReport


def unpaired(ctx):
    call = {"id": "c1", "name": "mark_task_complete", "arguments": {"summary": "done"}}
    return AgentReport(outcome="completed", completion_reason="tool_finish", steps=1, tool_calls=[call])
"""


def test_a_broken_invariant_is_its_own_section(
    tmp_path: Path, pool: WorkspacePool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's agent that reports a tool call without its result breaks the pairing invariant."""
    (tmp_path / "unpaired_agent_of_the_verdict_tests.py").write_text(textwrap.dedent(AGENT), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = SCENARIO.replace(
        "agent: {max_steps: 4, failover: []}",
        "agent: {max_steps: 4, failover: [], factory: 'unpaired_agent_of_the_verdict_tests:unpaired'}",
    )
    text = text.split("expect:")[0] + "expect: {outcome: completed, completion_reason: tool_finish, steps: 1}\n"
    cell = write_cell(tmp_path, text)
    run = run_cell(cell, tmp_path / "cassettes", pool, "all", driver=driver_for(cell))
    verdict = judge(cell, run)
    assert verdict.traffic_clean
    assert verdict.sections == ["invariants:\n  a tool call in the transcript has no result, or more than one"]


@pytest.mark.parametrize(
    ("stated", "sections"),
    [
        # stated as expected: the expectation holds, and the invariant yields to it
        (", tool_calls_paired: false", []),
        # stated otherwise: the expectation says so, once (no invariant section beside it)
        (
            ", tool_calls_paired: true",
            ["expectations (expected vs actual):\n  tool_calls_paired: expected True, got False"],
        ),
    ],
)
def test_a_stated_pairing_expectation_replaces_the_invariant(
    tmp_path: Path, pool: WorkspacePool, monkeypatch: pytest.MonkeyPatch, stated: str, sections: list[str]
) -> None:
    (tmp_path / "unpaired_agent_of_the_verdict_tests.py").write_text(textwrap.dedent(AGENT), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    text = SCENARIO.replace(
        "agent: {max_steps: 4, failover: []}",
        "agent: {max_steps: 4, failover: [], factory: 'unpaired_agent_of_the_verdict_tests:unpaired'}",
    )
    text = text.split("expect:")[0] + f"expect: {{outcome: completed, steps: 1{stated}}}\n"
    cell = write_cell(tmp_path, text)
    run = run_cell(cell, tmp_path / "cassettes", pool, "all", driver=driver_for(cell))
    assert [section.split("  (expected by")[0] for section in judge(cell, run).sections] == sections


def test_relative_where_is_relative_to_the_rootdir_only_inside_it(tmp_path: Path) -> None:
    render = relative_where(tmp_path)
    assert render(f"{tmp_path}/scenarios/demo.yaml:12") == "scenarios/demo.yaml:12"
    assert render("/elsewhere/demo.yaml:3") == "/elsewhere/demo.yaml:3"
