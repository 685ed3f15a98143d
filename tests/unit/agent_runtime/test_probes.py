import pytest
from route_faults import TWO_TURNS, emulated_http

from agent_runtime import probes
from agent_runtime.clock import VirtualClock
from agent_runtime.config import AgentConfig, parse_agent_config
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.probes import PROBE_TOOL, overrides_for, preflight, probe_route, run_probes
from agent_runtime.providers import parse_route
from agent_runtime.resilience import failover, resilient
from agent_runtime.resilience.failover import resolve_routes
from agent_runtime.resilience.resilient import ResilientModel

from .fakes import FakeClient

R = "openrouter/z-ai/glm-4.6"
KEYS = {
    "OPENAI_API_KEY": "sk-test-openai-000000",
    "OPENROUTER_API_KEY": "sk-or-v1-test0000000000",
    "ANTHROPIC_API_KEY": "sk-ant-test-0000000000",
    "MOONSHOT_API_KEY": "moonshot-key-000",
}


def test_tools_probe_sends_a_tool():
    # DESIGN section 11: the predecessor's tools probe sent no tool, so it could not see a route refuse tools.
    clock = VirtualClock()
    client = FakeClient({R: ["ok"]}, clock)
    probe_route(client, parse_route(R))
    requests = dict((i, r) for i, (_, r) in enumerate(client.calls))
    assert [r.tools for r in requests.values()] == [None, [PROBE_TOOL], None]
    assert PROBE_TOOL.parameters["required"] == ["value"]


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


def test_rejected_tools_become_a_tools_override_recorded_in_metrics():
    clock = VirtualClock()
    client = FakeClient({R: ["ok", "tools_unsupported", "ok"]}, clock)
    metrics = ProviderMetricsCollector()
    model = ResilientModel(client, AgentConfig(route=R, failover=()), clock=clock, metrics=metrics)
    log = RunLog()
    report = run_probes(model, runlog=log)
    assert report["routes"][R]["tools"]["status"] == "fail"
    assert report["routes"][R]["overrides"] == [{"kind": "tools", "reason": "probe: tools_unsupported"}]
    assert model.tool_mode(R) == "text"
    assert metrics.snapshot()["overrides"] == [{"route": R, "kind": "tools", "reason": "probe: tools_unsupported"}]
    assert metrics.snapshot()["summary"]["calls"] == 0  # probe calls are not model turns
    assert [(a.turn, a.attempt) for a in log.attempts] == [(0, 1), (0, 2), (0, 3)]
    assert log.probes == report


def test_failed_stream_becomes_a_stream_override():
    clock = VirtualClock()
    client = FakeClient({R: ["stream_error", "ok", "ok"]}, clock)
    model = ResilientModel(client, AgentConfig(route=R, failover=()), clock=clock, metrics=ProviderMetricsCollector())
    run_probes(model)
    assert model.streaming(R) is False and model.tool_mode(R) == "native"


def test_a_dead_route_or_load_is_no_capability_failure():
    dead = {n: {"status": "fail", "category": "auth"} for n in ("stream", "tools", "json")}
    assert overrides_for(dead) == []
    busy = {
        "stream": {"status": "fail", "category": "rate_limit"},
        "tools": {"status": "fail", "category": "overloaded"},
        "json": {"status": "pass", "category": None},
    }
    assert overrides_for(busy) == []


def test_warns_when_tool_accepted_but_not_called_or_json_not_json():
    clock = VirtualClock()
    client = FakeClient({R: ["ok"]}, clock)  # answers "fine" to everything
    checks = probe_route(client, parse_route(R))
    assert checks["tools"]["status"] == "warn" and "not called" in checks["tools"]["detail"]
    assert checks["json"]["status"] == "warn"
    assert checks["stream"]["status"] == "pass"


@pytest.mark.parametrize("fo", [None, ["openai/gpt-4.1-mini", "anthropic/claude-sonnet-4-5"], []])
def test_preflight_probes_runtime_failover_set(fo):
    # DESIGN section 11: the predecessor's preflight probed a different failover set than its runtime used.
    config = parse_agent_config({"route": "moonshot-anthropic/kimi-k2", "failover": fo})
    clock = VirtualClock()
    http, transport = emulated_http(TWO_TURNS, clock=clock)
    report = preflight(config, KEYS, http=http, clock=clock)
    runtime = ResilientModel(FakeClient({}, clock), config, clock=clock, metrics=ProviderMetricsCollector())
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
