from __future__ import annotations

import pytest

from pytest_kylecode.emulator import Turn, parse_script


@pytest.fixture
def two_calls_script() -> list[Turn]:
    return parse_script(
        [
            {
                "text": "Looking around.",
                "tool_calls": [
                    {"name": "list_dir", "arguments": {"path": "."}},
                    {"name": "read_file", "arguments": {"path": "src/fs.c", "limit": 20}},
                ],
            },
            {"text": "Done.", "tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "ok"}}]},
        ]
    )
