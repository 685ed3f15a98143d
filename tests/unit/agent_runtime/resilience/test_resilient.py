import contextlib
import time

import pytest

from agent_runtime.clock import VirtualClock
from agent_runtime.config import AgentConfig, Backoff, CircuitConfig, RecoveryRule, parse_agent_config
from agent_runtime.errors import ConfigError, RunFailed
from agent_runtime.messages import SystemMessage, ToolSpec, UserMessage
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.resilience.resilient import ResilientModel

from ..fakes import FakeClient

P = "openai/gpt-4o"
F = "openai/gpt-4.1-mini"
CONVERSATION = [SystemMessage("be brief"), UserMessage("list files")]
TOOLS = [ToolSpec("list_dir", "List a directory.", {"type": "object", "properties": {"path": {"type": "string"}}})]
LATENCY = 0.05


def build(script, *, config=None, failover=(F,), runlog=False, **agent):
    clock = VirtualClock()
    config = config or AgentConfig(route=P, failover=failover, **agent)
    client = FakeClient(script, clock, latency_s=LATENCY)
    metrics = ProviderMetricsCollector()
    log = RunLog() if runlog else None
    model = ResilientModel(client, config, clock=clock, metrics=metrics, runlog=log)
    return model, client, clock, metrics, log


def test_retry_then_success_on_the_same_route():
    model, client, clock, metrics, _ = build({P: ["server_error", "ok"]})
    turn = model.complete(CONVERSATION, TOOLS, 1)
    assert turn.route == P and turn.tool_mode == "native" and turn.response.text == "fine"
    assert client.routes_called() == [P, P]
    snap = metrics.snapshot()
    assert snap["summary"]["retries"] == 1 and snap["summary"]["fallbacks"] == 0
    # The backoff was slept on the virtual clock: 2 calls of 50 ms plus a jittered 0.5 s wait.
    assert 0.1 + 0.45 <= clock.now() <= 0.1 + 0.5


def test_retry_then_fallback():
    model, client, _, metrics, _ = build({P: ["server_error"], F: ["ok"]})
    turn = model.complete(CONVERSATION, TOOLS, 4)
    assert turn.route == F
    assert client.routes_called() == [P, P, F]  # server_error: retry 1, then fallback
    snap = metrics.snapshot()
    assert snap["fallbacks"] == [{"from": P, "to": F, "reason": "server_error", "turn": 4}]
    assert snap["routes"][P]["errors"] == {"server_error": 2} and snap["routes"][P]["retries"] == 1


@pytest.mark.parametrize("category", ["auth", "bad_request", "context_length", "content_filter", "not_found"])
def test_fail_fast_categories(category):
    model, client, clock, _metrics, _ = build({P: [category], F: ["ok"]})
    with pytest.raises(RunFailed) as info:
        model.complete(CONVERSATION, TOOLS, 1)
    assert info.value.category == category
    assert client.routes_called() == [P]  # neither retried nor failed over
    assert clock.now() == pytest.approx(LATENCY)


def test_rate_limit_retry_after_is_honoured():
    model, _client, clock, metrics, _ = build({P: [("rate_limit", 1.0), ("rate_limit", 2.5), "ok"]})
    assert model.complete(CONVERSATION, TOOLS, 1).route == P
    assert clock.now() == pytest.approx(3 * LATENCY + 1.0 + 2.5)  # exactly the server's waits, no backoff
    assert metrics.snapshot()["summary"]["retries"] == 2


def test_too_long_retry_after_takes_then_without_waiting():
    model, client, clock, metrics, _ = build({P: [("rate_limit", 30.0)], F: ["ok"]})
    assert model.complete(CONVERSATION, TOOLS, 1).route == F
    assert client.routes_called() == [P, F]
    assert clock.now() == pytest.approx(2 * LATENCY)
    assert metrics.snapshot()["summary"]["retries"] == 0


def test_rate_limit_budget_of_three_then_fallback():
    # A circuit that tolerates the whole budget, so the budget alone decides.
    config = AgentConfig(route=P, failover=(F,), circuit=CircuitConfig(failure_threshold=5))
    model, client, clock, _metrics, _ = build({P: ["rate_limit"], F: ["ok"]}, config=config)
    assert model.complete(CONVERSATION, TOOLS, 1).route == F
    assert client.routes_called() == [P, P, P, P, F]
    waited = clock.now() - 5 * LATENCY
    assert 0.9 * (0.5 + 1 + 2) <= waited <= 0.5 + 1 + 2


def test_a_circuit_opening_mid_turn_ends_the_retries_there():
    # Defaults: rate_limit retries 3 times, but the circuit opens at the 3rd consecutive failure,
    # and an open circuit takes no call, a retry budget under way included.
    model, client, _, metrics, _ = build({P: ["rate_limit"], F: ["ok"]})
    assert model.complete(CONVERSATION, TOOLS, 1).route == F
    assert client.routes_called() == [P, P, P, F]
    snap = metrics.snapshot()
    assert snap["summary"]["retries"] == 2 and snap["circuit_events"] == [{"route": P, "state": "open", "turn": 1}]


def test_tools_unsupported_switches_route_to_text_dialect_then_succeeds_there():
    native_rejected = lambda request: "tools_unsupported" if request.tools is not None else "ok"  # noqa: E731
    model, client, _, metrics, _ = build({P: [native_rejected]})
    turn = model.complete(CONVERSATION, TOOLS, 1)
    assert turn.route == P and turn.tool_mode == "text"
    (_, first), (_, second) = client.calls
    assert first.tools is not None and second.tools is None
    assert "list_dir" in second.messages[0].content  # the tools went into the prompt
    snap = metrics.snapshot()
    assert snap["overrides"] == [{"route": P, "kind": "tools", "reason": "tools_unsupported"}]
    assert snap["summary"]["tool_overrides"] == 1 and snap["summary"]["retries"] == 0
    # The override sticks to the route for the next turns.
    assert model.complete(CONVERSATION, TOOLS, 2).tool_mode == "text"
    assert client.calls[-1][1].tools is None


def test_override_stream_switches_route_off_streaming():
    config = parse_agent_config(
        {"route": P, "failover": [], "recovery": {"stream_truncated": {"action": "override_stream"}}}
    )
    model, client, _, metrics, _ = build({P: ["stream_truncated", "ok"]}, config=config)
    assert model.complete(CONVERSATION, TOOLS, 1).route == P
    assert [r.stream for _, r in client.calls] == [True, False]
    assert metrics.snapshot()["overrides"] == [{"route": P, "kind": "stream", "reason": "stream_truncated"}]


def test_explicit_empty_failover_fails_fast_with_the_category():
    model, client, _, _, _ = build({P: ["overloaded"]}, failover=())
    with pytest.raises(RunFailed) as info:
        model.complete(CONVERSATION, TOOLS, 1)
    assert info.value.category == "overloaded"
    assert client.routes_called() == [P, P, P]  # retry 2, then fallback: no route left


def test_fallback_with_no_route_left_fails_with_the_last_category():
    model, _, _, _, _ = build({P: ["html_response"], F: ["server_error"]})
    with pytest.raises(RunFailed) as info:
        model.complete(CONVERSATION, TOOLS, 1)
    assert info.value.category == "server_error"


def test_calls_equal_successes_plus_errors():
    model, _, _, metrics, _ = build({P: ["rate_limit", "server_error", "server_error", "ok"], F: ["overloaded", "ok"]})
    for turn in (1, 2, 3):
        model.complete(CONVERSATION, TOOLS, turn)
    s = metrics.snapshot()["summary"]
    assert s["calls"] == s["successes"] + s["errors"] and s["calls"] >= 6
    for route in metrics.snapshot()["routes"].values():
        assert route["calls"] == route["successes"] + sum(route["errors"].values())


def test_circuit_opens_skips_and_half_opens_after_cooldown():
    config = AgentConfig(
        route=P,
        failover=(F,),
        circuit=CircuitConfig(failure_threshold=2, cooldown_s=60),
        recovery={"html_response": RecoveryRule("fallback")},
    )
    model, client, clock, metrics, _ = build({P: ["html_response", "html_response", "ok"], F: ["ok"]}, config=config)
    model.complete(CONVERSATION, TOOLS, 1)
    model.complete(CONVERSATION, TOOLS, 2)  # second consecutive failure: open
    model.complete(CONVERSATION, TOOLS, 3)  # primary skipped
    assert client.routes_called() == [P, F, P, F, F]
    clock.advance(60)
    assert model.complete(CONVERSATION, TOOLS, 4).route == P  # the half-open trial succeeds
    snap = metrics.snapshot()
    assert snap["summary"]["circuit_skips"] == 1 and snap["summary"]["circuit_opens"] == 1
    assert snap["circuit_events"] == [
        {"route": P, "state": "open", "turn": 2},
        {"route": P, "state": "half_open", "turn": 4},
        {"route": P, "state": "closed", "turn": 4},
    ]
    assert snap["fallbacks"][-1] == {"from": P, "to": F, "reason": "circuit_open", "turn": 3}
    assert snap["routes"][P]["circuit"] == "closed"


def test_failed_half_open_trial_is_not_retried():
    config = AgentConfig(route=P, failover=(F,), circuit=CircuitConfig(failure_threshold=1, cooldown_s=5))
    model, client, clock, _, _ = build({P: ["server_error"], F: ["ok"]}, config=config)
    model.complete(CONVERSATION, TOOLS, 1)  # P fails and opens at once: no retry into it, F
    clock.advance(5)
    model.complete(CONVERSATION, TOOLS, 2)  # the half-open trial fails: not retried, F
    assert client.routes_called() == [P, F, P, F]


def test_backoff_never_sleeps_for_real(monkeypatch):
    # A predecessor slept for real during retries.
    def forbidden(seconds):
        raise AssertionError(f"time.sleep({seconds}) called")

    monkeypatch.setattr(time, "sleep", forbidden)
    rule = RecoveryRule("retry", max_retries=4, backoff=Backoff(base=8, factor=2, max=60, jitter=0), then="fallback")
    config = AgentConfig(
        route=P, failover=(F,), recovery={"server_error": rule}, circuit=CircuitConfig(failure_threshold=10)
    )
    model, _, clock, _, _ = build({P: ["server_error"], F: ["ok"]}, config=config)
    started = time.monotonic()
    assert model.complete(CONVERSATION, TOOLS, 1).route == F
    assert clock.now() == pytest.approx(8 + 16 + 32 + 60 + 6 * LATENCY)
    assert time.monotonic() - started < 1.0


def test_recovery_has_no_global_state():
    # A predecessor's orchestrator kept global state. Two models interleaved give
    # exactly what each gives alone: circuits, jitter streams and overrides are per instance.
    def run(models):
        for turn in (1, 2, 3):
            for model in models:
                with contextlib.suppress(RunFailed):
                    model.complete(CONVERSATION, TOOLS, turn)

    script = {P: ["rate_limit", "server_error", "ok", "html_response"], F: ["ok"]}
    alone, _, alone_clock, alone_metrics, _ = build(dict(script))
    run([alone])
    a, _, a_clock, a_metrics, _ = build(dict(script))
    b, _, _, _b_metrics, _ = build({P: ["html_response"], F: ["tools_unsupported", "ok"]})
    run([a, b])
    assert a_metrics.snapshot() == alone_metrics.snapshot()
    assert a_clock.now() == alone_clock.now()
    assert a.overrides == {} and b.overrides == {F: {"tools"}}
    assert a.circuit is not b.circuit and a.policy is not b.policy


def test_same_seed_same_run_different_seed_different_waits():
    def waited(seed):
        model, _, clock, metrics, _ = build({P: ["rate_limit", "rate_limit", "ok"]}, seed=seed)
        model.complete(CONVERSATION, TOOLS, 1)
        return clock.now(), metrics.snapshot()

    assert waited(1) == waited(1)
    assert waited(1)[0] != waited(2)[0]


def test_zero_retry_rule_falls_back_instead_of_failing():
    config = AgentConfig(route=P, failover=(F,), recovery={"server_error": RecoveryRule("retry", 0, then="fallback")})
    model, client, _, _, _ = build({P: ["server_error"], F: ["ok"]}, config=config)
    assert model.complete(CONVERSATION, TOOLS, 1).route == F
    assert client.routes_called() == [P, F]


def test_runlog_gets_attempts_and_marks():
    model, _, _, _, log = build({P: ["server_error", "server_error"], F: ["ok"]}, runlog=True)
    model.complete(CONVERSATION, TOOLS, 1)
    assert [(a.turn, a.attempt, a.retry, a.fallback) for a in log.attempts] == [
        (1, 1, False, False),
        (1, 2, True, False),
        (1, 3, False, True),
    ]
    marks = [e.mark for e in log.timeline if not hasattr(e, "record")]
    assert marks == ["retry", "fallback"]


def test_streaming_and_tool_mode_follow_config():
    model, client, _, _, _ = build({P: ["ok"]}, streaming=False, tool_mode="text")
    assert model.complete(CONVERSATION, TOOLS, 1).tool_mode == "text"
    request = client.calls[0][1]
    assert request.stream is False and request.tools is None


def test_no_route_is_a_config_error():
    with pytest.raises(ConfigError, match="route"):
        ResilientModel(
            FakeClient({}, VirtualClock()), AgentConfig(), clock=VirtualClock(), metrics=ProviderMetricsCollector()
        )
