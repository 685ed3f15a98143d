from __future__ import annotations

import pytest

from pytest_kylecode.process.placeholders import expand, problem, providers_named

VALUES = {"task_file": "/t/task.md", "workspace": "/w", "report_file": "/t/report.json", "scenario_dir": "/s"}


def test_placeholders_are_filled_in_and_double_braces_stay_literal() -> None:
    text = "--task={task_file} --url={base_url:openai}/x {{not}} {workspace}"
    assert problem(text) is None
    assert expand(text, VALUES, {"openai": "http://127.0.0.1:1/v1"}) == (
        "--task=/t/task.md --url=http://127.0.0.1:1/v1/x {not} /w"
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("{task}", "unknown placeholder '{task}' (did you mean 'task_file'?)"),
        ("{base_url:opnai}", "'{base_url:opnai}' names no provider (did you mean 'openai'?)"),
        ("{workspace:x}", "{workspace} takes no argument"),
        ("a } b", "unmatched '}'"),
        ("{ x", "unmatched '{'"),
    ],
)
def test_a_mistaken_placeholder_says_what_is_wrong(text: str, why: str) -> None:
    found = problem(text)
    assert found is not None and found.startswith(why)


def test_a_provider_the_cell_does_not_serve_is_named() -> None:
    assert providers_named("{base_url:anthropic} {base_url:openai}") == {"anthropic", "openai"}
    with pytest.raises(KeyError, match="anthropic"):
        expand("{base_url:anthropic}", VALUES, {"openai": "http://127.0.0.1:1/v1"})
