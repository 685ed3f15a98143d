from agent_runtime.clock import VirtualClock
from agent_runtime.config import AgentConfig
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.probes import PROBE_TOOL, overrides_for, probe_route, run_probes
from agent_runtime.providers import parse_route
from agent_runtime.resilience.resilient import ResilientModel

from .fakes import FakeClient

R = "openrouter/z-ai/glm-4.6"


def test_tools_probe_sends_a_tool():
    # A predecessor's tools probe sent no tool, so it could not see a route refuse tools.
    clock = VirtualClock()
    client = FakeClient({R: ["ok"]}, clock)
    probe_route(client, parse_route(R))
    requests = dict((i, r) for i, (_, r) in enumerate(client.calls))
    assert [r.tools for r in requests.values()] == [None, [PROBE_TOOL], None]
    assert PROBE_TOOL.parameters["required"] == ["value"]


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
