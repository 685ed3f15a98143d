"""Every fault of the catalog, through the real FaultTransport over the emulator, against the default
recovery policy (docs/design.md: error categories, recovery policy)."""

import httpx
import pytest
from route_faults import TWO_TURNS

from agent_runtime.clock import VirtualClock
from agent_runtime.config import parse_agent_config
from agent_runtime.runner import run_agent
from pytest_kylecode.emulator import EmulatorTransport, parse_script
from pytest_kylecode.faults.catalog import FAULT_KINDS, FaultSpec
from pytest_kylecode.faults.transport import FaultTransport

P = "openrouter/z-ai/glm-4.6"
F = "openai/gpt-4.1-mini"

# kind -> (outcome, category seen on the primary, retries, fallbacks, tool overrides)
EXPECTED = {
    "none": ("completed", None, 0, 0, 0),
    "http_400": ("failed", "bad_request", 0, 0, 0),
    "http_401": ("failed", "auth", 0, 0, 0),
    "http_404": ("failed", "not_found", 0, 0, 0),
    "http_429": ("completed", "rate_limit", 1, 0, 0),
    "http_500": ("completed", "server_error", 1, 0, 0),
    "http_502": ("completed", "server_error", 1, 0, 0),
    "http_503": ("completed", "server_error", 1, 0, 0),
    "http_529": ("completed", "overloaded", 1, 0, 0),
    "html_200": ("completed", "html_response", 0, 1, 0),
    "html_502": ("completed", "html_response", 0, 1, 0),
    "invalid_json": ("completed", "invalid_json", 1, 0, 0),
    "empty_response": ("completed", "empty_response", 1, 0, 0),
    "connect_error": ("completed", "connection", 1, 0, 0),
    "timeout": ("completed", "timeout", 1, 0, 0),
    "stall": ("completed", "timeout", 1, 0, 0),
    "truncated_stream": ("completed", "stream_truncated", 1, 0, 0),
    "sse_error": ("completed", "stream_error", 1, 0, 0),
    "malformed_sse": ("completed", "invalid_json", 1, 0, 0),
    "malformed_tool_args": ("completed", None, 0, 0, 0),
    "duplicate_tool_args": ("completed", None, 0, 0, 0),
    "missing_tool_call_id": ("completed", None, 0, 0, 0),
    "tools_unsupported": ("completed", "tools_unsupported", 0, 0, 1),
    "context_length": ("failed", "context_length", 0, 0, 0),
    "content_filter": ("failed", "content_filter", 0, 0, 0),
    "latency": ("completed", None, 0, 0, 0),
}


def run_with(fault: FaultSpec, tmp_path):
    clock = VirtualClock()
    config = parse_agent_config({"route": P, "failover": [F]})
    transport = FaultTransport(
        EmulatorTransport(parse_script(TWO_TURNS), clock=clock), fault, primary=P, clock=clock, timeouts=config.timeouts
    )
    with httpx.Client(transport=transport) as http:
        result = run_agent(config, "write the greeting", tmp_path, http=http, clock=clock, env={})
    return result, clock


def test_the_table_covers_the_catalog():
    assert set(EXPECTED) == set(FAULT_KINDS)


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_fault_meets_the_default_policy(kind, tmp_path):
    outcome, category, retries, fallbacks, tool_overrides = EXPECTED[kind]
    result, clock = run_with(FaultSpec(kind=kind), tmp_path)
    m = result.metrics
    assert result.outcome == outcome, result.error_message
    if outcome == "failed":
        assert result.error_category == category and m["summary"]["calls"] == 1  # fail fast: no retry, no fallback
    else:
        assert result.final_route == P  # one fault, recovered, and the next turn is back on the primary
    assert m["routes"][P]["errors"] == ({category: 1} if category else {})
    s = m["summary"]
    assert (s["retries"], s["fallbacks"], s["tool_overrides"]) == (retries, fallbacks, tool_overrides)
    assert s["calls"] == s["successes"] + s["errors"]
    if kind in ("timeout", "stall"):
        assert clock.now() > 30  # the timeout was measured on the virtual clock...


def test_stall_costs_no_wall_time(tmp_path):
    import time

    started = time.monotonic()
    _, clock = run_with(FaultSpec(kind="stall"), tmp_path)
    assert clock.now() > 31 and time.monotonic() - started < 5  # ...and cost no wall time


def test_persistent_503_falls_back_and_opens_the_circuit(tmp_path):
    result, _ = run_with(FaultSpec(kind="http_503", times=5), tmp_path)
    m = result.metrics
    assert result.outcome == "completed" and result.final_route == F
    # turn 1: 503, retry, 503 -> fallback; turn 2: 503 opens the circuit -> no retry into it, fallback
    assert m["routes"][P]["errors"] == {"server_error": 3} and m["routes"][P]["retries"] == 1
    assert [f["reason"] for f in m["fallbacks"]] == ["server_error", "server_error"]
    assert m["circuit_events"] == [{"route": P, "state": "open", "turn": 2}]
