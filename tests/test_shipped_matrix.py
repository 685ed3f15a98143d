"""The shipped scenario matrix (scenarios/, cassettes/) covers what it promises.

Every fault kind of the catalog runs on every wire protocol, streamed and not, with native tools
and the text dialect, wherever the catalog allows the combination; every cell states the outcome
it expects and how it ends; every cell has its cassette and its metrics snapshot. Running the
cells is the matrix's own job (``pytest --kylecode-matrix``); this only reads the files.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from agent_runtime.providers import PROTOCOLS, parse_route
from pytest_kylecode.faults.catalog import FAULT_KINDS, FaultSpec
from pytest_kylecode.scenarios.files import scenario_files
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.scenarios.scenario import Cell

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def cells() -> list[Cell]:
    return [cell for path in scenario_files(ROOT / "scenarios") for cell in expand(load_scenario(path)).cells]


def test_size(cells: list[Cell]) -> None:
    assert len(scenario_files(ROOT / "scenarios")) >= 8
    assert len(cells) >= 400


def test_every_fault_on_every_protocol_streaming_and_tool_mode(cells: list[Cell]) -> None:
    covered = {(c.fault.kind, parse_route(c.provider).protocol, c.streaming, c.tool_mode) for c in cells}
    missing = [
        combo
        for combo in itertools.product(FAULT_KINDS, PROTOCOLS, (True, False), ("native", "text"))
        if FaultSpec(kind=combo[0]).applies_to(streaming=combo[2], tool_mode=combo[3]) and combo not in covered
    ]
    assert missing == []


def test_every_cell_says_how_it_ends(cells: list[Cell]) -> None:
    for cell in cells:
        expect = cell.expect
        name = f"{cell.scenario.name}[{cell.id}]"
        assert "outcome" in expect, name
        if expect["outcome"] == "completed":
            assert expect.get("completion_reason"), name
        else:
            assert expect.get("error_category"), name
        assert {"retries", "fallbacks"} & set(expect) or expect["outcome"] == "loop_guard", name
        assert "tool_sequence" in expect, name
        assert not cell.skip, name


def test_the_cases_the_matrix_exists_for(cells: list[Cell]) -> None:
    def some(predicate: object) -> bool:
        return any(predicate(c) for c in cells)  # type: ignore[operator]

    assert some(
        lambda c: c.provider.startswith("moonshot-anthropic/") and c.fault.kind == "duplicate_tool_args" and c.streaming
    )
    assert some(
        lambda c: (
            c.scenario.agent_config.failover == ()
            and c.expect.get("outcome") == "failed"
            and c.expect.get("fallbacks") == 0
        )
    )
    assert some(
        lambda c: c.fault.kind == "http_429" and c.expect.get("retries") == 1 and c.expect.get("outcome") == "completed"
    )
    assert some(lambda c: c.fault.kind == "tools_unsupported" and c.expect.get("outcome") == "completed")
    assert some(
        lambda c: (
            c.expect.get("outcome") == "loop_guard"
            and any(call.raw_arguments for turn in c.scenario.script for call in turn.tool_calls)
        )
    )
    assert some(lambda c: c.expect.get("completion_reason") == "text_sentinel")
    assert some(lambda c: c.fault.kind == "html_200" and c.expect.get("fallbacks", 0) >= 1)
    assert some(lambda c: c.fault.kind == "http_503" and c.expect.get("fallbacks", 0) >= 1)
    assert some(
        lambda c: (
            c.scenario.name == "enumerate_workspace"
            and c.expect.get("tool_sequence") == ["list_dir", "mark_task_complete"]
        )
    )


def test_every_cell_has_its_cassette_and_snapshot(cells: list[Cell]) -> None:
    cassettes = ROOT / "cassettes"
    snapshots = ROOT / "scenarios" / "__snapshots__"
    missing = [
        f"{c.scenario.name}[{c.id}]"
        for c in cells
        if not (cassettes / c.cassette_relpath).is_file()
        or (c.scenario.snapshot and not (snapshots / c.scenario.name / f"{c.id}.json").is_file())
    ]
    assert missing == []
    expected = {cassettes / c.cassette_relpath for c in cells}
    assert sorted(set(cassettes.rglob("*.yaml")) - expected) == [], "orphan cassettes"
