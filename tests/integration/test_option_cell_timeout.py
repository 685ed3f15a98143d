"""--kylecode-cell-timeout: the wall time a cell may take."""

from __future__ import annotations

import pytest
from matrix_helpers import BASIC, Matrix


def test_cell_timeout_bounds_wall_time(matrix: Matrix) -> None:
    slow = (
        BASIC.replace(
            'tool_calls: [{name: list_dir, arguments: {path: "."}}]',
            'tool_calls: [{name: run_shell, arguments: {command: "sleep 5"}}]',
        )
        .replace(
            "provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5, openai-responses/gpt-4.1]",
            "provider: [openai/gpt-4o-mini]",
        )
        .replace("streaming: [true, false]", "streaming: [true]")
    )
    matrix.scenario("basic", slow)
    result = matrix.run("--kylecode-record=all", "--kylecode-cell-timeout=0.5", "-q")
    result.assert_outcomes(failed=1)
    assert "exceeded --kylecode-cell-timeout=0.5s of wall time" in result.stdout.str()


def test_cells_cut_short_anywhere_leave_no_workspace_behind_under_xdist(
    matrix: Matrix, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A time limit this short interrupts cells wherever they are: making, checking, rebuilding or
    handing back a workspace included. No ``kylecode-ws-*`` directory may outlive the session."""
    private = tmp_path_factory.mktemp("tmpdir")
    matrix.monkeypatch.setenv("TMPDIR", str(private))
    matrix.scenario("basic", BASIC)
    result = matrix.run("--kylecode-record=all", "-n", "2", "--kylecode-cell-timeout=0.005", subprocess=True)
    assert "exceeded --kylecode-cell-timeout=0.005s" in result.stdout.str()
    left = sorted(str(p.relative_to(private)) for p in private.rglob("*"))
    assert not [name for name in left if name.startswith("kylecode-ws-")], left
