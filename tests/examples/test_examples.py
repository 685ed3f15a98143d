"""The example agents of docs/byo-agent.md, run the way a user runs them: pytest in examples/, offline, CI=true.

Their committed cassettes replay, their committed metrics snapshots match, and the metrics say what
the docs claim for each fault. With the agents' error handling switched off, exactly the cells
that need it turn red, each with a readable reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from example_projects import replay_example

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SNAPSHOTS = EXAMPLES / "scenarios" / "__snapshots__"
OPENAI = "openai/gpt-4o-mini"
ANTHROPIC = "anthropic/claude-haiku-4-5"
# the scenarios and the plain pytest test of the fixture way in, in one process
EXAMPLE_ARGS = ("scenarios", "test_httpx_agent.py", "-p", "no:xdist", "-p", "no:randomly")


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("examples")
    result = replay_example(EXAMPLES, tmp, *EXAMPLE_ARGS)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return json.loads((tmp / "report" / "report.json").read_text())


def snapshot(scenario: str, cell: str, root: Path = SNAPSHOTS) -> dict[str, Any]:
    return json.loads((root / scenario / f"{cell}.json").read_text())  # type: ignore[no-any-return]


def test_every_example_cell_replays_offline(replay: dict[str, Any]) -> None:
    outcomes = {row["cell"]: row["outcome"] for row in replay["cells"]}
    assert len(outcomes) == 17 and set(outcomes.values()) == {"passed"}


@pytest.mark.parametrize("streaming", ["stream", "nostream"])
def test_openai_sdk_agent_metrics(replay: dict[str, Any], streaming: str) -> None:
    none = snapshot("openai_sdk_agent", f"{OPENAI}-{streaming}-native-none")
    assert (none["summary"]["calls"], none["summary"]["errors"], none["summary"]["retries"]) == (4, 0, 0)
    assert none["routes"][OPENAI]["stream_calls"] == (4 if streaming == "stream" else 0)
    # a 503 the SDK's own retry absorbs: one more call, counted as a retry, and the run completes
    http_503 = snapshot("openai_sdk_agent", f"{OPENAI}-{streaming}-native-http_503")
    assert http_503["routes"][OPENAI]["errors"] == {"server_error": 1}
    assert (http_503["summary"]["calls"], http_503["summary"]["successes"], http_503["summary"]["retries"]) == (5, 4, 1)
    assert http_503["completion"] == {
        "outcome": "completed",
        "reason": "tool_finish",
        "steps": 4,
        "error_category": None,
    }
    # an HTML page, twice: the SDK has nothing to retry, the agent asks once more, then fails
    html = snapshot("openai_sdk_agent", f"{OPENAI}-{streaming}-native-html_200-times=2")
    assert (html["summary"]["calls"], html["summary"]["html_errors"], html["summary"]["retries"]) == (2, 2, 1)
    assert html["completion"] == {"outcome": "failed", "reason": None, "steps": 0, "error_category": "html_response"}


def test_openai_truncated_stream_is_asked_again(replay: dict[str, Any]) -> None:
    cut = snapshot("openai_sdk_agent", f"{OPENAI}-stream-native-truncated_stream")
    assert cut["routes"][OPENAI]["errors"] == {"stream_truncated": 1} and cut["summary"]["retries"] == 1
    assert cut["completion"]["outcome"] == "completed"


def test_anthropic_sdk_agent_metrics(replay: dict[str, Any]) -> None:
    for streaming in ("stream", "nostream"):
        overloaded = snapshot("anthropic_sdk_agent", f"{ANTHROPIC}-{streaming}-native-http_529")
        assert overloaded["routes"][ANTHROPIC]["errors"] == {"overloaded": 1}
        assert (overloaded["summary"]["retries"], overloaded["completion"]["outcome"]) == (1, "completed")
        html = snapshot("anthropic_sdk_agent", f"{ANTHROPIC}-{streaming}-native-html_200-times=2")
        assert html["completion"]["error_category"] == "html_response" and html["summary"]["html_errors"] == 2
    stall = snapshot("anthropic_sdk_agent", f"{ANTHROPIC}-stream-native-stall")
    assert stall["routes"][ANTHROPIC]["errors"] == {"timeout": 1} and stall["summary"]["retries"] == 1
    assert stall["routes"][ANTHROPIC]["latency_ms"]["max"] > 30_000  # 31 virtual seconds, no wall time


def test_httpx_agent_metrics(replay: dict[str, Any]) -> None:
    route = "openrouter/z-ai/glm-4.6"
    root = EXAMPLES / "__snapshots__"
    limited = snapshot("test_httpx_agent", f"{route}-nostream-native-http_429", root)
    assert limited["routes"][route]["errors"] == {"rate_limit": 1} and limited["summary"]["retries"] == 1
    html = snapshot("test_httpx_agent", f"{route}-nostream-native-html_200-times=5", root)
    assert html["fallbacks"] == [{"from": route, "to": "openai/gpt-4.1-mini", "reason": "html_response", "turn": 1}]
    assert html["routes"]["openai/gpt-4.1-mini"]["successes"] == 3


def test_the_cassettes_hold_streamed_tool_calls() -> None:
    chat = (EXAMPLES / "cassettes/openai_sdk_agent" / OPENAI / "stream-native-none.yaml").read_text()
    assert '"delta":{"tool_calls":[{"index":0,"function":{"arguments":' in chat and "data: '[DONE]'" in chat
    messages = (EXAMPLES / "cassettes/anthropic_sdk_agent" / ANTHROPIC / "stream-native-none.yaml").read_text()
    assert "input_json_delta" in messages and '"type":"tool_use"' in messages


def test_without_error_handling_the_fault_cells_turn_red(tmp_path: Path) -> None:
    result = replay_example(EXAMPLES, tmp_path, *EXAMPLE_ARGS, KYLECODE_EXAMPLE_NO_ERROR_HANDLING="1")
    assert result.returncode == 1
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    failed = sorted(row["cell"] for row in report["cells"] if row["outcome"] == "failed")
    assert failed == sorted(
        [
            f"{ANTHROPIC}-nostream-native-html_200-times=2",
            f"{ANTHROPIC}-stream-native-html_200-times=2",
            f"{ANTHROPIC}-stream-native-stall",
            f"{OPENAI}-nostream-native-html_200-times=2",
            f"{OPENAI}-stream-native-html_200-times=2",
            f"{OPENAI}-stream-native-truncated_stream",
        ]
    )
    out = result.stdout
    assert (
        "cell openai_sdk_agent[openai/gpt-4o-mini-nostream-native-html_200-times=2]: the agent raised "
        "AttributeError: 'str' object has no attribute 'choices'"
    ) in out
    assert "  raised at " in out and "agents/openai_agent.py" in out
    assert "provider traffic: openai/gpt-4o-mini: 1 call(s), 0 ok, html_response 1, 0 retried" in out
    assert (
        "cell anthropic_sdk_agent[anthropic/claude-haiku-4-5-stream-native-stall]: the agent raised "
        "httpx2.ReadTimeout: stream stalled after 31.02 s (read timeout 30 s, cell clock)"
    ) in out
    assert "metrics.summary.calls: expected 5, got 4" in out  # the cut stream, no longer asked again
