"""The framework examples (examples/frameworks) replay offline, as a user runs them: CI=true, -n 2.

One scenario per framework, each over the eight faults a framework meets most, streamed and not,
with every cell's expectation stated in the scenario (what the framework really does with the
fault). A framework that is not installed skips its scenario, saying how to install it. The
replays are marked slow (``pytest -m slow``; .ci/run runs them after the suite).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from example_projects import replay_example

FRAMEWORKS_DIR = Path(__file__).resolve().parents[2] / "examples" / "frameworks"
SNAPSHOTS = FRAMEWORKS_DIR / "scenarios" / "__snapshots__"

# scenario -> (the modules its agent imports, its number of cells)
SCENARIOS: dict[str, tuple[tuple[str, ...], int]] = {
    "openai_agents": (("agents",), 28),
    "pydantic_ai": (("pydantic_ai",), 28),
    "langgraph": (("langchain", "langchain_openai", "langgraph"), 14),
}


def replay(tmp_path: Path, scenario: str) -> dict[str, Any]:
    modules, _ = SCENARIOS[scenario]
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{scenario}: {', '.join(missing)} not installed (pip install -e '.[frameworks]')")
    result = replay_example(
        FRAMEWORKS_DIR, tmp_path, f"scenarios/{scenario}.yaml", "-n", "2", "-p", "no:randomly", timeout=600
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    report: dict[str, Any] = json.loads((tmp_path / "report" / "report.json").read_text())
    return report


def snapshot(scenario: str, cell: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SNAPSHOTS / scenario / f"{cell}.json").read_text())
    return data


@pytest.mark.slow
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_framework_cell_replays_offline(tmp_path: Path, scenario: str) -> None:
    report = replay(tmp_path, scenario)
    outcomes = {row["cell"]: row["outcome"] for row in report["cells"]}
    assert len(outcomes) == SCENARIOS[scenario][1] and set(outcomes.values()) == {"passed"}


@pytest.mark.parametrize("route", ["openai/gpt-4o-mini", "openai-responses/gpt-4.1-mini"])
def test_openai_agents_gives_up_at_once_on_what_its_sdk_does_not_retry(route: str) -> None:
    retried = snapshot("openai_agents", f"{route}-nostream-native-http_503")
    assert (retried["summary"]["calls"], retried["summary"]["retries"]) == (5, 1)
    assert retried["completion"]["outcome"] == "completed"
    for cell in ("nostream-native-html_200", "stream-native-truncated_stream", "stream-native-sse_error"):
        gave_up = snapshot("openai_agents", f"{route}-{cell}")
        assert (gave_up["summary"]["calls"], gave_up["completion"]["outcome"]) == (1, "failed"), cell
