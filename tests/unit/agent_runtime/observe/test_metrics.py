import json

from agent_runtime.clock import VirtualClock
from agent_runtime.observe.metrics import Attempt, ProviderMetricsCollector, percentile

from ..fakes import make_record

SUMMARY_KEYS = {
    "calls",
    "successes",
    "errors",
    "html_errors",
    "retries",
    "accepted_broken_responses",
    "fallbacks",
    "circuit_opens",
    "circuit_skips",
    "stream_overrides",
    "tool_overrides",
    "input_tokens",
    "output_tokens",
}
ROUTE_KEYS = {
    "calls",
    "successes",
    "errors",
    "retries",
    "accepted_broken_responses",
    "stream_calls",
    "latency_ms",
    "ttft_ms",
    "input_tokens",
    "output_tokens",
    "circuit",
}


def attempt(route, outcome="ok", *, turn=1, n=1, retry=False, stream=False, latency_s=0.05, clock=None):
    record = make_record(route, clock=clock or VirtualClock(), outcome=outcome, stream=stream, latency_s=latency_s)
    return Attempt(record, turn, n, retry=retry)


def test_snapshot_shape_is_exactly_design_section_7():
    m = ProviderMetricsCollector()
    m.record_attempt(attempt("openai/gpt-4o"))
    snap = m.snapshot()
    assert set(snap) == {"schema", "summary", "routes", "fallbacks", "circuit_events", "overrides", "completion"}
    assert snap["schema"] == 1
    assert set(snap["summary"]) == SUMMARY_KEYS
    assert set(snap["routes"]["openai/gpt-4o"]) == ROUTE_KEYS
    assert set(snap["routes"]["openai/gpt-4o"]["latency_ms"]) == {"p50", "p95", "max"}
    assert set(snap["completion"]) == {"outcome", "reason", "steps", "error_category"}
    json.dumps(snap)  # plain JSON data


def test_metrics_one_route_name_and_retries_counted():
    # A predecessor named a route two ways (model vs provider/model) and missed retried calls.
    route = "openrouter/z-ai/glm-4.6"
    m = ProviderMetricsCollector()
    m.record_attempt(attempt(route, "server_error", n=1))
    m.record_attempt(attempt(route, "server_error", n=2, retry=True))
    m.record_attempt(attempt(route, "ok", n=3, retry=True))
    m.record_attempt(attempt("openai/gpt-4.1-mini", "ok", turn=2))
    snap = m.snapshot()
    assert list(snap["routes"]) == ["openai/gpt-4.1-mini", route]  # only provider/model keys, sorted
    r = snap["routes"][route]
    assert r["calls"] == 3 and r["retries"] == 2 and r["successes"] == 1 and r["errors"] == {"server_error": 2}
    s = snap["summary"]
    assert s["calls"] == 4 == s["successes"] + s["errors"]
    assert s["retries"] == 2
    for stats in snap["routes"].values():
        assert stats["calls"] == stats["successes"] + sum(stats["errors"].values())


def test_nearest_rank_percentiles_rounded_to_a_tenth():
    assert percentile([1.0], 50) == 1.0
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) == 10.0  # rank ceil(10) = 10
    assert percentile(values, 95) == 19.0  # rank ceil(19) = 19
    m = ProviderMetricsCollector()
    clock = VirtualClock()
    for latency in (0.01234, 0.2, 0.05):
        m.record_attempt(attempt("a/b", latency_s=latency, stream=True, clock=clock))
    lat = m.snapshot()["routes"]["a/b"]["latency_ms"]
    assert lat == {"p50": 50.0, "p95": 200.0, "max": 200.0}
    assert m.snapshot()["routes"]["a/b"]["ttft_ms"] == {"p50": 25.0, "p95": 100.0, "max": 100.0}


def test_no_stream_calls_give_null_ttft():
    m = ProviderMetricsCollector()
    m.record_attempt(attempt("a/b"))
    assert m.snapshot()["routes"]["a/b"]["ttft_ms"] == {"p50": None, "p95": None, "max": None}
    assert m.snapshot()["routes"]["a/b"]["stream_calls"] == 0


def test_html_errors_tokens_events_and_completion():
    m = ProviderMetricsCollector()
    m.record_attempt(attempt("anthropic/claude", "html_response"))
    m.record_attempt(attempt("openai/gpt-4o", "ok", n=2))
    m.record_fallback("anthropic/claude", "openai/gpt-4o", "html_response", 1)
    m.record_circuit_event("anthropic/claude", "open", 3)
    m.record_circuit_skip("anthropic/claude")
    m.record_override("openai/gpt-4o", "tools", "tools_unsupported")
    m.record_override("openai/gpt-4o", "stream", "probe")
    m.set_completion("completed", "tool_finish", 2, None)
    snap = m.snapshot()
    s = snap["summary"]
    assert (s["html_errors"], s["fallbacks"], s["circuit_opens"], s["circuit_skips"]) == (1, 1, 1, 1)
    assert (s["tool_overrides"], s["stream_overrides"]) == (1, 1)
    assert (s["input_tokens"], s["output_tokens"]) == (10, 5)
    assert snap["routes"]["anthropic/claude"]["circuit"] == "open"
    assert snap["routes"]["openai/gpt-4o"]["circuit"] == "closed"
    assert snap["fallbacks"] == [
        {"from": "anthropic/claude", "to": "openai/gpt-4o", "reason": "html_response", "turn": 1}
    ]
    assert snap["circuit_events"] == [{"route": "anthropic/claude", "state": "open", "turn": 3}]
    assert snap["completion"] == {"outcome": "completed", "reason": "tool_finish", "steps": 2, "error_category": None}


def test_snapshot_is_deterministic_and_detached():
    def build():
        m = ProviderMetricsCollector()
        for route in ("zai/glm", "anthropic/claude", "openai/gpt"):
            m.record_attempt(attempt(route, "rate_limit"))
            m.record_attempt(attempt(route, "server_error"))
        return m

    a, b = build(), build()
    assert json.dumps(a.snapshot()) == json.dumps(b.snapshot())
    assert list(a.snapshot()["routes"]["zai/glm"]["errors"]) == ["rate_limit", "server_error"]
    snap = a.snapshot()
    snap["fallbacks"].append("x")
    snap["completion"]["steps"] = 99
    assert a.snapshot()["fallbacks"] == [] and a.snapshot()["completion"]["steps"] == 0
