"""Capability probes and preflight over the plugin's emulator: what they put on the wire, which routes they probe."""

import pytest
from route_faults import TWO_TURNS, emulated_http

from agent_runtime import probes
from agent_runtime.clock import VirtualClock
from agent_runtime.config import parse_agent_config
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.probes import preflight, probe_route
from agent_runtime.providers import parse_route
from agent_runtime.resilience import failover, resilient
from agent_runtime.resilience.failover import resolve_routes
from agent_runtime.resilience.resilient import ResilientModel

R = "openrouter/z-ai/glm-4.6"
KEYS = {
    "OPENAI_API_KEY": "sk-test-openai-000000",
    "OPENROUTER_API_KEY": "sk-or-v1-test0000000000",
    "ANTHROPIC_API_KEY": "sk-ant-test-0000000000",
    "MOONSHOT_API_KEY": "moonshot-key-000",
}


def test_tools_probe_puts_the_tool_on_the_wire():
    clock = VirtualClock()
    http, transport = emulated_http(
        [{"tool_calls": [{"name": "kylecode_probe", "arguments": {"value": "ok"}}]}], clock=clock
    )
    client = probes_client(http, clock)
    checks = probe_route(client, parse_route("openai/gpt-4o-mini"))
    tools_body = transport.seen[1][2]
    assert [t["function"]["name"] for t in tools_body["tools"]] == ["kylecode_probe"]
    assert checks["tools"]["status"] == "pass"
    assert transport.seen[0][2]["stream"] is True and "tools" not in transport.seen[0][2]
    assert checks["stream"]["status"] == "pass" and checks["overrides"] == []


def probes_client(http, clock):
    from agent_runtime.config import Timeouts
    from agent_runtime.wire.client import ProviderClient

    return ProviderClient(http, clock=clock, timeouts=Timeouts(), env=KEYS)


@pytest.mark.parametrize("fo", [None, ["openai/gpt-4.1-mini", "anthropic/claude-sonnet-4-5"], []])
def test_preflight_probes_runtime_failover_set(fo):
    # A predecessor's preflight probed a different failover set than its runtime used.
    config = parse_agent_config({"route": "moonshot-anthropic/kimi-k2", "failover": fo})
    clock = VirtualClock()
    http, transport = emulated_http(TWO_TURNS, clock=clock)
    report = preflight(config, KEYS, http=http, clock=clock)
    runtime = ResilientModel(probes_client(http, clock), config, clock=clock, metrics=ProviderMetricsCollector())
    expected = [r.name for r in runtime.routes]
    assert report["routes"] == expected
    probed = list(dict.fromkeys(transport.routes()))
    assert probed == expected and len(transport.seen) == 3 * len(expected)
    # One function, not two copies of the rule.
    assert probes.resolve_routes is failover.resolve_routes is resilient.resolve_routes
    assert expected == [r.name for r in resolve_routes(config.route, config.failover)]


def test_preflight_missing_key_fails_that_route_and_skips_its_probes():
    config = parse_agent_config({"route": "openai/gpt-4o-mini", "failover": ["anthropic/claude-sonnet-4-5"]})
    clock = VirtualClock()
    http, transport = emulated_http(TWO_TURNS, clock=clock)
    env = {"OPENAI_API_KEY": "sk-test-openai-000000"}
    report = preflight(config, env, http=http, clock=clock)
    assert report["status"] == "fail"
    key_checks = {c["route"]: c["status"] for c in report["checks"] if c["check"] == "key"}
    assert key_checks == {"openai/gpt-4o-mini": "pass", "anthropic/claude-sonnet-4-5": "fail"}
    assert set(transport.routes()) == {"openai/gpt-4o-mini"}
    assert "ANTHROPIC_API_KEY is not set" in str(report["checks"])


def test_preflight_reports_tools_override_and_warns():
    config = parse_agent_config({"route": R, "failover": []})
    clock = VirtualClock()
    http, _ = emulated_http([{"text": "OK"}], {R: [None, "tools_unsupported"]}, clock=clock)
    report = preflight(config, KEYS, http=http, clock=clock)
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses == {"key": "pass", "stream": "pass", "tools": "warn", "json": "warn"}
    assert "override: text dialect" in next(c["detail"] for c in report["checks"] if c["check"] == "tools")
    assert report["status"] == "warn"
    assert report["overrides"] == [{"route": R, "kind": "tools", "reason": "probe: tools_unsupported"}]
