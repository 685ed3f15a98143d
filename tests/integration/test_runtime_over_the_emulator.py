"""End to end: run_agent over the provider emulator, with HTTP faults per route."""

import json
import zipfile

import pytest
from route_faults import TWO_TURNS, emulated_http

from agent_runtime.clock import VirtualClock
from agent_runtime.config import parse_agent_config
from agent_runtime.errors import ConfigError
from agent_runtime.observe.bundle import build_bundle
from agent_runtime.observe.telemetry import ENV_PATH, read_spans
from agent_runtime.runner import AgentRun, run_agent

KEYS = {
    "OPENAI_API_KEY": "sk-test-openai-000000",
    "OPENROUTER_API_KEY": "sk-or-v1-test0000000000",
    "ANTHROPIC_API_KEY": "sk-ant-test-0000000000",
}
TASK = 'Create greeting.txt containing "hello", then finish.'


def run(agent, faults=None, *, tmp_path, env=None, script=TWO_TURNS, **kw):
    clock = VirtualClock()
    http, transport = emulated_http(script, faults, clock)
    workspace = tmp_path / "ws"
    workspace.mkdir(exist_ok=True)
    result = run_agent(
        parse_agent_config(agent), TASK, workspace, http=http, clock=clock, env={**KEYS, **(env or {})}, **kw
    )
    return result, transport, clock


def summary_invariants(metrics):
    s = metrics["summary"]
    assert s["calls"] == s["successes"] + s["errors"]
    for route in metrics["routes"].values():
        assert route["calls"] == route["successes"] + sum(route["errors"].values())


def test_completed_run_has_metrics_and_a_run_log(tmp_path):
    result, _transport, _ = run({"route": "openai/gpt-4o-mini", "failover": []}, tmp_path=tmp_path)
    assert isinstance(result, AgentRun)
    assert (result.outcome, result.completion_reason, result.steps) == ("completed", "tool_finish", 2)
    assert (tmp_path / "ws" / "greeting.txt").read_text() == "hello\n"
    m = result.metrics
    assert m["summary"]["calls"] == 2 and m["completion"] == {
        "outcome": "completed",
        "reason": "tool_finish",
        "steps": 2,
        "error_category": None,
    }
    assert list(m["routes"]) == ["openai/gpt-4o-mini"]
    assert len(result.runlog.attempts) == 2
    assert list(tmp_path.iterdir()) == [tmp_path / "ws"]  # nothing written unless asked


def test_http_429_retry_after_honoured_end_to_end(tmp_path):
    result, _transport, clock = run(
        {"route": "openai/gpt-4o-mini", "failover": []}, {"openai/gpt-4o-mini": ["http_429"]}, tmp_path=tmp_path
    )
    assert result.outcome == "completed"
    m = result.metrics
    assert m["summary"]["retries"] == 1 and m["routes"]["openai/gpt-4o-mini"]["errors"] == {"rate_limit": 1}
    assert m["summary"]["calls"] == 3
    assert clock.now() >= 1.0  # the emulator's Retry-After: 1, waited on the virtual clock
    summary_invariants(m)


def test_html_200_falls_back_and_circuit_opens(tmp_path):
    script = TWO_TURNS[:1] * 3 + TWO_TURNS[1:]
    result, transport, _ = run(
        {"route": "openrouter/z-ai/glm-4.6", "failover": ["openai/gpt-4.1-mini"]},
        {"openrouter/z-ai/glm-4.6": ["html_200"] * 5},
        tmp_path=tmp_path,
        script=script,
    )
    assert result.outcome == "completed" and result.final_route == "openai/gpt-4.1-mini"
    m = result.metrics
    assert m["summary"]["fallbacks"] == 4 and m["summary"]["html_errors"] == 3
    assert m["summary"]["circuit_opens"] == 1 and m["summary"]["circuit_skips"] == 1
    assert [f["reason"] for f in m["fallbacks"]] == ["html_response"] * 3 + ["circuit_open"]
    assert m["routes"]["openrouter/z-ai/glm-4.6"]["circuit"] == "open"
    assert transport.routes().count("openrouter/z-ai/glm-4.6") == 3
    summary_invariants(m)


def test_tools_unsupported_goes_text_dialect_on_the_same_route(tmp_path):
    result, transport, _ = run(
        {"route": "openrouter/z-ai/glm-4.6", "failover": []},
        {"openrouter/z-ai/glm-4.6": ["tools_unsupported"]},
        tmp_path=tmp_path,
    )
    assert result.outcome == "completed" and result.final_route == "openrouter/z-ai/glm-4.6"
    assert result.metrics["overrides"] == [
        {"route": "openrouter/z-ai/glm-4.6", "kind": "tools", "reason": "tools_unsupported"}
    ]
    bodies = [body for _, _, body in transport.seen]
    assert "tools" in bodies[0] and all("tools" not in b for b in bodies[1:])
    assert (tmp_path / "ws" / "greeting.txt").read_text() == "hello\n"


@pytest.mark.parametrize(
    ("fault", "category"), [("http_401", "auth"), ("http_400", "bad_request"), ("context_length", "context_length")]
)
def test_fail_fast_end_to_end(tmp_path, fault, category):
    result, transport, _ = run(
        {"route": "anthropic/claude-sonnet-4-5"}, {"anthropic/claude-sonnet-4-5": [fault]}, tmp_path=tmp_path
    )
    assert (result.outcome, result.error_category) == ("failed", category)
    assert len(transport.seen) == 1  # the default failover chain exists, but a fail-fast category ends the run


def test_empty_failover_fails_with_last_category(tmp_path):
    result, transport, _ = run(
        {"route": "openai/gpt-4o-mini", "failover": []}, {"openai/gpt-4o-mini": ["http_503"] * 5}, tmp_path=tmp_path
    )
    assert (result.outcome, result.error_category) == ("failed", "server_error")
    assert transport.routes() == ["openai/gpt-4o-mini"] * 2
    assert result.metrics["completion"]["error_category"] == "server_error"


def test_default_failover_chain_is_used(tmp_path):
    result, _transport, _ = run(
        {"route": "openai/gpt-4o-mini"}, {"openai/gpt-4o-mini": ["http_529"] * 9}, tmp_path=tmp_path
    )
    assert result.outcome == "completed" and result.final_route == "openrouter/openai/gpt-4o-mini"


def test_probes_turn_a_rejected_tool_into_an_override_before_turn_one(tmp_path):
    result, transport, _ = run(
        {"route": "openrouter/z-ai/glm-4.6", "failover": [], "probes": True},
        {"openrouter/z-ai/glm-4.6": [None, "tools_unsupported"]},
        tmp_path=tmp_path,
    )
    assert result.outcome == "completed"
    assert result.metrics["overrides"] == [
        {"route": "openrouter/z-ai/glm-4.6", "kind": "tools", "reason": "probe: tools_unsupported"}
    ]
    assert result.metrics["summary"]["calls"] == 2  # probes are not model turns
    assert all("tools" not in body for _, _, body in transport.seen[3:])  # the run itself never sent tools
    assert result.runlog.probes["routes"]["openrouter/z-ai/glm-4.6"]["tools"]["status"] == "fail"


def test_telemetry_appended_to_env_path_with_one_route_spelling(tmp_path):
    target = tmp_path / "telemetry.jsonl"
    for _ in range(2):
        run(
            {"route": "openrouter/z-ai/glm-4.6", "failover": []},
            {"openrouter/z-ai/glm-4.6": ["http_503"]},
            tmp_path=tmp_path,
            env={ENV_PATH: str(target)},
            runlog=False,
        )
    spans = read_spans(target)
    assert len(spans) == 2 * 3
    assert {s["attributes"]["kylecode.route"] for s in spans} == {"openrouter/z-ai/glm-4.6"}
    assert [s["attributes"]["kylecode.retry"] for s in spans[:3]] == [False, True, False]
    assert spans[0]["attributes"]["error.type"] == "server_error"


def test_canary_key_never_written_anywhere(tmp_path):
    canary = "sk-ant-CANARY-e2e-0123456789"
    target = tmp_path / "telemetry.jsonl"
    result, _, _ = run(
        {"route": "anthropic/claude-sonnet-4-5", "failover": ["openai/gpt-4.1-mini"]},
        {"anthropic/claude-sonnet-4-5": ["http_401"]},
        tmp_path=tmp_path,
        env={"ANTHROPIC_API_KEY": canary, ENV_PATH: str(target)},
    )
    assert result.error_category == "auth"
    sent = result.runlog.attempts[0].record.request_headers
    assert sent["x-api-key"] == canary  # it really was sent...
    run_dir = result.runlog.write(tmp_path / "runs", "canary", "cell", env={"ANTHROPIC_API_KEY": canary})
    bundle = build_bundle(run_dir)
    written = [p for p in run_dir.rglob("*") if p.is_file()] + [target, bundle]
    for path in written:
        assert b"CANARY" not in path.read_bytes(), path  # ...and never written
    with zipfile.ZipFile(bundle) as zf:
        for name in zf.namelist():
            assert b"CANARY" not in zf.read(name), name
    request = json.loads((run_dir / "meta/requests/turn_1_1.json").read_text())
    assert request["headers"]["x-api-key"] == "[REDACTED]"


def test_no_route_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        run({"max_steps": 3}, tmp_path=tmp_path)
