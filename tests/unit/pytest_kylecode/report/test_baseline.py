"""The comparison with a baseline ``report.json``, and the errors of one that cannot be read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_runtime.errors import ConfigError
from pytest_kylecode.report import MatrixReport, document
from pytest_kylecode.report.baseline import Delta, compare, load_baseline
from pytest_kylecode.scenarios.scenario import Cell

from .reports import metrics, ran

NODE = "scenarios/demo.yaml::demo[{}]"


def baseline_file(tmp_path: Path, cells: list[dict[str, object]], **top: object) -> Path:
    path = tmp_path / "main" / "report.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"schema": 2, "cells": cells, **top}), encoding="utf-8")
    return path


def test_changes_are_sorted_into_newly_failing_passing_new_removed_and_metric_deltas(
    cells: dict[str, Cell], tmp_path: Path, scenarios: Path
) -> None:
    now = MatrixReport()
    ran(now, cells["openai/gpt-4o-mini-stream-native-none"], metrics=metrics(2, latency_ms=150.0))
    ran(now, cells["openai/gpt-4o-mini-stream-native-stall"], "failed", "steps differ", metrics=metrics(3))
    ran(now, cells["anthropic/claude-sonnet-4-5-stream-native-none"], metrics=metrics(2))
    ran(now, cells["anthropic/claude-sonnet-4-5-stream-native-stall"])
    before = [
        {"nodeid": NODE.format("openai/gpt-4o-mini-stream-native-none"), "outcome": "passed", "metrics": metrics(2)},
        {"nodeid": NODE.format("openai/gpt-4o-mini-stream-native-stall"), "outcome": "passed"},
        {"nodeid": NODE.format("anthropic/claude-sonnet-4-5-stream-native-none"), "outcome": "failed"},
        {"nodeid": "scenarios/gone.yaml::gone[openai/gpt-4o-mini-stream-native-none]", "outcome": "passed"},
        # defined by the scenario file, not run this time (a shard): not removed
        {"nodeid": NODE.format("openai/gpt-4o-mini-nostream-native-none"), "outcome": "passed"},
    ]
    baseline = load_baseline(baseline_file(tmp_path, before, commit="abc"))
    defined = document.census(scenarios, scenarios.parent).nodeids
    comparison = compare(baseline, now, source="main/report.json", defined=defined)
    assert comparison.commit == "abc"
    assert comparison.newly_failing == [NODE.format("openai/gpt-4o-mini-stream-native-stall")]
    assert comparison.newly_passing == [NODE.format("anthropic/claude-sonnet-4-5-stream-native-none")]
    assert comparison.new == [NODE.format("anthropic/claude-sonnet-4-5-stream-native-stall")]
    assert comparison.removed == ["scenarios/gone.yaml::gone[openai/gpt-4o-mini-stream-native-none]"]
    # the cell without metrics in the baseline (an older report) has no deltas
    moved = NODE.format("openai/gpt-4o-mini-stream-native-none")
    assert comparison.deltas == [Delta(moved, "latency_ms", 120.0, 150.0)]
    assert comparison.deltas[0].text() == "latency_ms 120 -> 150 (+30)"


@pytest.mark.parametrize(
    ("content", "where", "key"),
    [
        ("{not json", "report.json:1", None),
        ('{"schema": 2}', "report.json", "cells"),
        ('{"cells": [{"nodeid": "a::b"}]}', "report.json", "cells[0].outcome"),
    ],
)
def test_a_baseline_that_cannot_be_read_names_where(tmp_path: Path, content: str, where: str, key: str | None) -> None:
    path = tmp_path / "report.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_baseline(path)
    assert caught.value.where is not None and caught.value.where.endswith(where)
    assert caught.value.key == key


def test_a_missing_baseline_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_baseline(tmp_path / "nowhere.json")
    assert caught.value.where == str(tmp_path / "nowhere.json")
