"""The checks of ``scenarios.validate`` that catch a scenario silently checking less than it says.

Selectors that select nothing, metrics paths the snapshot cannot hold (against the snapshot's JSON
Schema, which the real snapshots must satisfy), scripted calls of tools the agent lacks.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from agent_runtime.errors import CATEGORIES, ConfigError
from agent_runtime.observe.metrics import ProviderMetricsCollector
from pytest_kylecode.scenarios.matrix import load_scenario

ROOT = Path(__file__).resolve().parents[4]
SCHEMA = json.loads((ROOT / "pytest_kylecode" / "schema" / "metrics.schema.json").read_text(encoding="utf-8"))

BASE = """\
name: s
task: t
script:
  - tool_calls: [{name: mark_task_complete, arguments: {summary: done}}]
matrix:
  provider: [openai/gpt-4o-mini, anthropic/claude-sonnet-4-5]
  streaming: [true, false]
  tools: [native, text]
  fault: [none, truncated_stream]
"""


def load(tmp_path: Path, extra: str, base: str = BASE) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(base + extra, encoding="utf-8")
    load_scenario(path)


def test_the_schema_holds_every_shipped_snapshot_and_the_runtimes_own() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    snapshots = sorted((ROOT / "scenarios" / "__snapshots__").rglob("*.json"))
    assert snapshots
    for path in snapshots:
        validator.validate(json.loads(path.read_text(encoding="utf-8")))
    validator.validate(ProviderMetricsCollector().snapshot())
    route = SCHEMA["properties"]["routes"]["additionalProperties"]
    assert route["properties"]["errors"]["propertyNames"]["enum"] == list(CATEGORIES)


@pytest.mark.parametrize(
    "path",
    [
        "summary.retries",
        "routes[openai/gpt-4o-mini].errors.timeout",
        "routes[openai/gpt-4o-mini].latency_ms.p95",
        "circuit_events[0].state",
        "fallbacks[1].from",
        "completion.outcome",
    ],
)
def test_metrics_paths_the_snapshot_holds_validate(tmp_path: Path, path: str) -> None:
    load(tmp_path, f'expect:\n  metrics: {{"{path}": 1}}\n')


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("summary.retry", "summary has no key 'retry' (did you mean 'retries'?)"),
        ("sumary.calls", "has no key 'sumary' (did you mean 'summary'?)"),
        ("routes[openai/gpt-4o-mini].errors.time_out", "(did you mean 'timeout'?)"),
        ("circuit_events.state", "circuit_events is a list: give an index such as circuit_events[0]"),
        ("summary.calls.total", "summary.calls is a single value; it has no 'total'"),
    ],
)
def test_a_metrics_path_the_snapshot_cannot_hold_is_an_error_at_its_line(tmp_path: Path, path: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, f'expect:\n  outcome: completed\n  metrics: {{"{path}": 1}}\n')
    assert caught.value.where == f"{tmp_path / 's.yaml'}:12"
    assert said in str(caught.value)


@pytest.mark.parametrize(
    ("extra", "line", "said"),
    [
        ("exclude:\n  - {provider: openai/gpt-4o}\n", 11, "provider 'openai/gpt-4o' matches no provider"),
        ("exclude:\n  - {fault: [none, stall]}\n", 11, "fault 'stall' matches no fault of the matrix"),
        ("exclude:\n  - {streaming: false, fault: truncated_stream}\n", 11, "excludes nothing"),
        (
            "overrides:\n  - when: {tools: txt}\n    skip: x\n",
            11,
            "unknown tool mode 'txt' (did you mean 'text'?)",
        ),
        (
            "exclude:\n  - {provider: 'anthropic/*'}\noverrides:\n  - when: {provider: 'anthropic/*'}\n    skip: x\n",
            13,
            "this override matches no cell that runs",
        ),
        (
            "overrides:\n  - when: {streaming: false, fault: truncated_stream}\n    xfail: x\n",
            11,
            "this override matches no cell that runs",
        ),
    ],
)
def test_a_selector_that_selects_nothing_is_an_error_at_its_line(
    tmp_path: Path, extra: str, line: int, said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    assert caught.value.where == f"{tmp_path / 's.yaml'}:{line}"
    assert said in str(caught.value)


def test_selectors_that_select_something_validate(tmp_path: Path) -> None:
    load(
        tmp_path,
        "exclude:\n  - {provider: 'anthropic/*', tools: text}\n"
        "overrides:\n  - when: {fault: truncated_stream}\n    expect: {retries: 1}\n",
    )


def test_a_scripted_tool_the_agent_lacks_is_an_error_unless_the_agent_is_the_users(tmp_path: Path) -> None:
    base = BASE.replace("name: mark_task_complete", "name: mark_task_done")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "", base)
    assert caught.value.where == f"{tmp_path / 's.yaml'}:4"
    assert "the agent has no tool 'mark_task_done'" in str(caught.value)
    assert "did you mean 'mark_task_complete'?" in str(caught.value)
    load(tmp_path, "agent: {factory: 'mypkg.agent:build'}\n", base)  # a user's agent brings its own tools
