"""--kylecode-cell-timeout: the wall time a cell may take."""

from __future__ import annotations

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
