"""What a replayed cell must not do, whatever the machine's speed (no timing here).

An ``httpx.Client`` on its default transport builds an SSL context (~25 ms; more with a proxy in
the environment): a cell's client runs on our transports, so it must build none. A cell takes a
pooled workspace and gives it back.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from pytest_kylecode.cell.drivers import RuntimeDriver
from pytest_kylecode.cell.stack import emulator_upstream, execute_cell
from pytest_kylecode.scenarios.matrix import expand, load_scenario
from pytest_kylecode.workspaces import WorkspacePool

ROOT = Path(__file__).resolve().parents[4]


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
