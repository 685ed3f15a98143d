"""MeteringTransport: provider metrics measured from the traffic, in the runtime's snapshot shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_runtime.clock import VirtualClock
from agent_runtime.config import Timeouts, parse_agent_config
from agent_runtime.observe.metrics import ProviderMetricsCollector
from agent_runtime.observe.runlog import RunLog
from agent_runtime.runner import run_agent
from agent_runtime.wire.client import ROUTE_EXTENSION
from pytest_kylecode.byo.metering import MeteringTransport, TrafficMeter
from pytest_kylecode.emulator import EmulatorTransport, parse_script
from pytest_kylecode.failures import ReplayMiss
from pytest_kylecode.faults.catalog import FAULT_KINDS, STREAM_ONLY, FaultSpec
from pytest_kylecode.faults.transport import FaultTransport

P = "openrouter/z-ai/glm-4.6"
F = "openai/gpt-4.1-mini"
CHAT = "https://openrouter.ai/api/v1/chat/completions"
SCRIPT = parse_script(
    [
        {"tool_calls": [{"name": "write_file", "arguments": {"path": "greeting.txt", "content": "hello\n"}}]},
        {"tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "greeting written"}}]},
    ]
)


TOOLS = [{"type": "function", "function": {"name": "write_file", "parameters": {"type": "object"}}}]


def body(model: str = "z-ai/glm-4.6", stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {"model": model, "stream": stream, "messages": [{"role": "user", "content": "go"}], "tools": TOOLS, **extra}


class Meter:
    """A metering transport over the emulator (and a fault), on a virtual clock."""

    def __init__(self, fault: FaultSpec | None = None, inner: httpx.BaseTransport | None = None) -> None:
        self.clock = VirtualClock()
        source = inner or EmulatorTransport(SCRIPT, clock=self.clock)
        self.fault = FaultTransport(source, fault or FaultSpec(), primary=P, clock=self.clock, timeouts=Timeouts())
        self.collector = ProviderMetricsCollector()
        self.runlog = RunLog()
        self.meter = TrafficMeter(self.clock, self.collector, runlog=self.runlog)
        self.client = httpx.Client(transport=MeteringTransport(self.fault, self.meter), timeout=httpx.Timeout(30.0))

    def post(self, url: str = CHAT, model: str = "z-ai/glm-4.6", stream: bool = False, **extra: Any) -> httpx.Response:
        return self.client.post(url, json=body(model, stream, **extra))

    @property
    def metrics(self) -> dict[str, Any]:
        return self.collector.snapshot()

    def route(self, name: str = P) -> dict[str, Any]:
        return self.metrics["routes"][name]

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def meter() -> Any:
    m = Meter()
    yield m
    m.close()


def test_a_success_is_measured_on_the_cell_clock(meter: Meter) -> None:
    response = meter.post()
    assert response.json()["choices"][0]["message"]["tool_calls"]
    assert response.request.extensions[ROUTE_EXTENSION] == P  # the fault and the cassette see the route
    route = meter.route()
    assert (route["calls"], route["successes"], route["errors"], route["stream_calls"]) == (1, 1, {}, 0)
    # a plain body arrives whole when the equivalent stream would have ended (the emulator's pacing)
    assert route["ttft_ms"]["max"] == route["latency_ms"]["max"] == 570.0
    assert route["input_tokens"] > 0 and route["output_tokens"] > 0
    assert meter.meter.final_route == P and meter.meter.successes == 1


def test_a_stream_is_decoded_as_it_is_read(meter: Meter) -> None:
    with meter.client.stream("POST", CHAT, json=body(stream=True)) as response:
        chunks = list(response.iter_raw())
    route = meter.route()
    assert len(chunks) > 3 and route["stream_calls"] == 1 and route["successes"] == 1
    assert route["ttft_ms"]["max"] == 250.0 and route["latency_ms"]["max"] > 250.0


def test_a_stream_closed_before_its_finish_is_truncated(meter: Meter) -> None:
    with meter.client.stream("POST", CHAT, json=body(stream=True)) as response:
        next(response.iter_raw())
    assert meter.route()["errors"] == {"stream_truncated": 1}


@pytest.mark.parametrize(
    ("kind", "stream", "category"),
    [
        ("http_503", False, "server_error"),
        ("http_429", False, "rate_limit"),
        ("html_200", False, "html_response"),
        ("html_200", True, "html_response"),
        ("invalid_json", False, "invalid_json"),
        ("empty_response", True, "empty_response"),
        ("sse_error", True, "stream_error"),
        ("truncated_stream", True, "stream_truncated"),
        ("malformed_sse", True, "invalid_json"),
        ("context_length", False, "context_length"),
        ("tools_unsupported", False, "tools_unsupported"),
        ("content_filter", True, "content_filter"),
    ],
)
def test_each_answer_is_classified_by_the_protocol(kind: str, stream: bool, category: str) -> None:
    m = Meter(FaultSpec(kind))
    try:
        m.post(stream=stream).read()
        assert m.route()["errors"] == {category: 1}
        assert m.metrics["summary"]["html_errors"] == (category == "html_response")
    finally:
        m.close()


def test_an_error_body_the_client_never_reads_still_decides_the_category() -> None:
    m = Meter(FaultSpec("context_length"))  # a 400 whose *body* says context_length
    try:
        with m.client.stream("POST", CHAT, json=body()):
            pass  # closed unread, as an SDK does before raising
        assert m.route()["errors"] == {"context_length": 1}
    finally:
        m.close()


def test_a_raised_transport_error_is_counted_and_re_raised() -> None:
    m = Meter(FaultSpec("connect_error"))
    try:
        with pytest.raises(httpx.ConnectError):
            m.post()
        assert m.route()["errors"] == {"connection": 1}
    finally:
        m.close()


@pytest.mark.parametrize(
    ("kind", "stream", "what", "waited"),
    [("timeout", False, "no first byte", 61.0), ("stall", True, "stream stalled", 31.0)],
)
def test_the_clients_read_timeout_applies_on_the_cell_clock(kind: str, stream: bool, what: str, waited: float) -> None:
    m = Meter(FaultSpec(kind))
    try:
        with pytest.raises(httpx.ReadTimeout, match=rf"{what} after {int(waited)}\.\d+ s \(read timeout 30 s, cell"):
            m.post(stream=stream).read()
        assert m.route()["errors"] == {"timeout": 1}
        assert m.clock.now() >= waited  # virtual seconds; the test took none
    finally:
        m.close()


def test_no_read_timeout_means_no_limit() -> None:
    m = Meter(FaultSpec("stall"))
    try:
        response = m.client.post(CHAT, json=body(stream=True), timeout=None)
        assert response.status_code == 200 and m.route()["successes"] == 1
    finally:
        m.close()


def test_retries_and_fallbacks_follow_the_traffic() -> None:
    m = Meter(FaultSpec("http_503", times=2))
    try:
        m.post()  # 503
        m.post()  # 503 again, same route: a retry
        m.post(url="https://api.openai.com/v1/chat/completions", model="gpt-4.1-mini")  # after a failure: fallback
        m.post(url="https://api.openai.com/v1/chat/completions", model="gpt-4.1-mini")  # after a success: a turn
        m.post()  # a switch after a success is the agent's choice
        metrics = m.metrics
        assert metrics["summary"]["retries"] == 1 and metrics["routes"][P]["retries"] == 1
        assert metrics["fallbacks"] == [{"from": P, "to": F, "reason": "server_error", "turn": 1}]
        assert metrics["summary"]["calls"] == 5 and metrics["summary"]["successes"] == 3
        assert [(a.turn, a.attempt, a.retry, a.fallback) for a in m.runlog.attempts] == [
            (1, 1, False, False),
            (1, 2, True, False),
            (1, 3, False, True),
            (2, 1, False, False),
            (3, 1, False, False),
        ]
        assert [e.mark for e in m.runlog.timeline if not hasattr(e, "record")] == ["retry", "fallback"]
    finally:
        m.close()


def test_a_call_that_carries_a_broken_answer_forward_is_the_next_turn_not_a_retry() -> None:
    """After a cut stream, asking the same conversation again is a retry; going on with the cut
    answer in the conversation is the next turn, counted as an accepted broken response."""
    m = Meter(FaultSpec("truncated_stream", times=2))
    try:
        m.post(stream=True).read()  # cut
        m.post(stream=True).read()  # the same conversation again: a retry (cut again)
        went_on = [{"role": "user", "content": "go"}, {"role": "assistant", "content": "(half an answer)"}]
        m.post(stream=True, messages=went_on).read()  # the agent went on with it: the next turn
        metrics = m.metrics
        assert metrics["summary"]["retries"] == 1 and metrics["summary"]["accepted_broken_responses"] == 1
        assert metrics["routes"][P]["accepted_broken_responses"] == 1
        assert [(a.turn, a.retry, a.accepted_broken_response) for a in m.runlog.attempts] == [
            (1, False, False),
            (1, True, False),
            (2, False, True),
        ]
        assert [e.mark for e in m.runlog.timeline if not hasattr(e, "record")] == ["retry", "accepted"]
    finally:
        m.close()


def test_a_faulted_200_is_broken_too_and_the_match_paths_are_no_difference() -> None:
    """A malformed_tool_args answer is a 200 the agent may take; re-sending the conversation
    with only an ignored field changed is still a retry of it."""
    m = Meter(FaultSpec("malformed_tool_args"))
    try:
        m.post(prompt_cache_key="agents-sdk:run:aa")
        m.post(prompt_cache_key="agents-sdk:run:bb")  # same messages: a retry of the faulted answer
        assert m.metrics["summary"]["retries"] == 1 and m.metrics["summary"]["accepted_broken_responses"] == 0
    finally:
        m.close()


def test_harness_errors_are_not_provider_calls() -> None:
    class Missing(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise ReplayMiss("no recorded interaction matches", request=request)

    m = Meter(inner=Missing())
    try:
        with pytest.raises(ReplayMiss):
            m.post()
        assert m.metrics["summary"]["calls"] == 0 and isinstance(m.meter.harness_error, ReplayMiss)
    finally:
        m.close()


def test_a_url_that_is_no_provider_is_metered_by_status() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.url.path == "/ok" else 502, json={})

    m = Meter(inner=httpx.MockTransport(handler))
    try:
        m.client.get("https://tools.example/ok")
        m.client.get("https://tools.example/bad")
        assert m.metrics["routes"]["tools.example/ok"]["successes"] == 1
        assert m.metrics["routes"]["tools.example/bad"]["errors"] == {"server_error": 1}
    finally:
        m.close()


def test_close_finishes_what_the_client_left_open(meter: Meter) -> None:
    response = meter.client.send(meter.client.build_request("POST", CHAT, json=body(stream=True)), stream=True)
    assert meter.metrics["summary"]["calls"] == 0
    meter.meter.close()
    assert meter.route()["errors"] == {"stream_truncated": 1}
    response.close()  # idempotent: still one call
    assert meter.metrics["summary"]["calls"] == 1


# -- the oracle: metering the runtime's own traffic gives the runtime's own numbers -------------

# Faults where the harness, seeing only bytes, cannot agree with the runtime by design:
# a stall trips the runtime's separate idle_s (30 s) before its one httpx read timeout (60 s);
# a tools override re-sends to the same route, which traffic alone reads as a retry.
DIFFERENT_BY_DESIGN = {"stall", "tools_unsupported"}
REPAIRED_BY_THE_RUNTIME = {"duplicate_tool_args", "missing_tool_call_id"}
CASES = [
    (kind, stream)
    for kind in FAULT_KINDS
    if kind not in DIFFERENT_BY_DESIGN
    for stream in (True, False)
    if stream or kind not in STREAM_ONLY
]


@pytest.mark.parametrize(("kind", "stream"), CASES, ids=[f"{k}-{'stream' if s else 'nostream'}" for k, s in CASES])
def test_metering_the_runtime_reproduces_its_own_metrics(kind: str, stream: bool, tmp_path: Path) -> None:
    clock = VirtualClock()
    config = parse_agent_config({"route": P, "failover": [F], "streaming": stream})
    fault = FaultTransport(
        EmulatorTransport(SCRIPT, clock=clock), FaultSpec(kind), primary=P, clock=clock, timeouts=config.timeouts
    )
    collector = ProviderMetricsCollector()
    meter = TrafficMeter(clock, collector)
    with httpx.Client(transport=MeteringTransport(fault, meter)) as http:
        result = run_agent(config, "write the greeting", tmp_path, http=http, clock=clock, env={})
    ours, theirs = collector.snapshot(), result.metrics
    assert theirs is not None and theirs["summary"]["calls"] >= 1
    for key in ("calls", "successes", "errors", "html_errors", "retries", "fallbacks", "input_tokens", "output_tokens"):
        assert ours["summary"][key] == theirs["summary"][key], key
    assert ours["fallbacks"] == theirs["fallbacks"]
    # The runtime repairs a duplicated or id-less tool call before it carries the answer on (no
    # broken answer accepted, for it); the traffic shows only that the fault answered the call.
    skip = {"circuit", "accepted_broken_responses"} if kind in REPAIRED_BY_THE_RUNTIME else {"circuit"}
    for route, stats in theirs["routes"].items():
        assert {k: v for k, v in ours["routes"][route].items() if k not in skip} == {
            k: v for k, v in stats.items() if k not in skip
        }, json.dumps([ours["routes"], theirs["routes"]])
    assert meter.final_route == result.final_route
