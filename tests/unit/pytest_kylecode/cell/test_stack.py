"""``execute_cell``: one cell's stack (fault over cassette over emulator) run by the runtime's driver.

A cell recorded from the emulator replays offline; a cell without its cassette, or with one of
another version of its scenario, fails before its agent runs and gives its workspace back; a
live recording without the route's key is refused before any request. And what a replayed cell
must not do, whatever the machine's speed (no timing here): an ``httpx.Client`` on its default
transport builds an SSL context (~25 ms; more with a proxy in the environment), a cell's client
runs on our transports, so it must build none.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from agent_runtime.clock import Clock
from pytest_kylecode.cassettes.format import load
from pytest_kylecode.cell.drivers import RuntimeDriver
from pytest_kylecode.cell.stack import emulator_upstream, execute_cell
from pytest_kylecode.failures import CassetteMissing, CassetteStale, LiveKeyMissing
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.scenarios.scenario import Cell
from pytest_kylecode.workspaces import WorkspacePool

from .cells import SCENARIO, record_cell, run_cell, write_cell

ROOT = Path(__file__).resolve().parents[4]


@pytest.fixture
def pool() -> Iterator[WorkspacePool]:
    pool = WorkspacePool()
    yield pool
    pool.close()


def no_upstream(cell: Cell, clock: Clock) -> httpx.BaseTransport:
    raise AssertionError("a replay asked for the upstream")


def test_a_recorded_cell_replays_offline(tmp_path: Path, pool: WorkspacePool) -> None:
    cell = write_cell(tmp_path)
    cassette = record_cell(cell, tmp_path / "cassettes", pool)
    assert cassette == tmp_path / "cassettes/demo/openai/gpt-4o-mini/stream-native-none.yaml"
    assert len(load(cassette).interactions) == 2
    run = run_cell(cell, tmp_path / "cassettes", pool, upstream=no_upstream)
    assert run.cassette_problems == [] and not run.cassettes.recording
    assert (run.result.outcome, run.result.completion_reason, run.result.steps) == ("completed", "tool_finish", 2)
    assert (run.workspace / "notes.txt").read_text() == "hi\n"
    pool.release(run.workspace)


def test_the_fault_sits_above_the_cassette(tmp_path: Path, pool: WorkspacePool) -> None:
    """The cassette of a fault cell holds only genuine upstream traffic; replay injects the fault again."""
    cell = write_cell(tmp_path, SCENARIO.replace("fault: [none]", "fault: [http_503]"))
    cassette = record_cell(cell, tmp_path / "cassettes", pool)
    assert [i.status for i in load(cassette).interactions] == [200, 200]
    run = run_cell(cell, tmp_path / "cassettes", pool, upstream=no_upstream)
    metrics = run.result.metrics
    assert run.cassette_problems == [] and run.result.outcome == "completed"
    assert metrics["summary"]["retries"] == 1 and metrics["routes"]["openai/gpt-4o-mini"]["errors"] == {
        "server_error": 1
    }
    pool.release(run.workspace)


def test_a_cell_without_its_cassette_fails_and_gives_its_workspace_back(tmp_path: Path, pool: WorkspacePool) -> None:
    cell = write_cell(tmp_path)
    workspace = pool.acquire(cell.scenario.workspace)
    pool.release(workspace)  # the one workspace of these files: the cell takes it
    with pytest.raises(CassetteMissing, match=r"no cassette for this cell: .*stream-native-none\.yaml"):
        run_cell(cell, tmp_path / "cassettes", pool, upstream=no_upstream)
    assert pool.acquire(cell.scenario.workspace) == workspace  # free again, not kept busy


def test_a_cassette_of_another_version_of_the_scenario_is_stale(tmp_path: Path, pool: WorkspacePool) -> None:
    record_cell(write_cell(tmp_path), tmp_path / "cassettes", pool)
    changed = write_cell(tmp_path, SCENARIO.replace("task: Write notes.txt", "task: Now write notes.txt"))
    with pytest.raises(CassetteStale, match="recorded for another version of scenario 'demo'"):
        run_cell(changed, tmp_path / "cassettes", pool, upstream=no_upstream)


def test_a_changed_expectation_keeps_the_cassette_valid(tmp_path: Path, pool: WorkspacePool) -> None:
    """Only what decides the traffic (task, workspace, script, agent) dates a cassette."""
    record_cell(write_cell(tmp_path), tmp_path / "cassettes", pool)
    changed = write_cell(tmp_path, SCENARIO.replace("steps: 2", "steps: 5"))
    run = run_cell(changed, tmp_path / "cassettes", pool, upstream=no_upstream)
    assert run.cassette_problems == [] and run.result.steps == 2
    pool.release(run.workspace)


def live(cell: Cell, tmp_path: Path, upstream: Callable[[Cell, Clock], httpx.BaseTransport]) -> object:
    return execute_cell(
        cell,
        cassettes=tmp_path / "cassettes",
        record="all",
        upstream_kind="live",
        upstream=upstream,
        driver=RuntimeDriver(),
    )


def test_a_live_cell_without_its_key_is_refused_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("KYLECODE_OPENAI_BASE_URL", raising=False)
    asked: list[str] = []

    def upstream(cell: Cell, clock: Clock) -> httpx.BaseTransport:
        asked.append(cell.id)
        return emulator_upstream(cell, clock)

    with pytest.raises(LiveKeyMissing, match=r"needs OPENAI_API_KEY in the environment .*no request was sent"):
        live(write_cell(tmp_path), tmp_path, upstream)
    assert asked == [] and not (tmp_path / "cassettes").exists()


def test_a_base_url_elsewhere_stands_in_for_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("KYLECODE_OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    run = live(write_cell(tmp_path), tmp_path, emulator_upstream)
    assert run.result.outcome == "completed" and run.cassettes.recording  # type: ignore[attr-defined]


def test_replayed_cells_build_no_ssl_context_and_reuse_their_workspace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: list[type] = []
    original = ssl.SSLContext.__new__

    def counting(cls: type, *args: object, **kwargs: object) -> ssl.SSLContext:
        made.append(cls)
        return original(cls, *args, **kwargs)  # type: ignore[call-arg]

    monkeypatch.setattr(ssl.SSLContext, "__new__", counting)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")  # env proxies must not matter either
    monkeypatch.setenv("CI", "true")
    cells = [
        c
        for c in expand(load_scenario(ROOT / "scenarios" / "enumerate_workspace.yaml")).cells
        if c.xfail is None and c.skip is None
    ][:6]
    pool = WorkspacePool()
    workspaces = set()
    try:
        for cell in cells:
            run = execute_cell(
                cell,
                cassettes=ROOT / "cassettes",
                record="none",
                upstream_kind="emulator",
                upstream=emulator_upstream,
                driver=RuntimeDriver(),
                workspaces=pool,
            )
            assert run.cassette_problems == []
            assert run.result.outcome == "completed"
            workspaces.add(run.workspace)
            pool.release(run.workspace)
    finally:
        pool.close()
    assert made == []
    assert len(workspaces) == 1
