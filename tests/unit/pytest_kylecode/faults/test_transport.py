"""FaultTransport: every fault in each protocol's own wire shape, hitting exactly the calls it targets.

Requests are built by the runtime's own protocol modules and sent through the provider client,
so what is checked is what an agent would see.
"""

from __future__ import annotations

import json

import httpx
import pytest

from agent_runtime.clock import VirtualClock
from agent_runtime.config import Timeouts
from agent_runtime.messages import ModelRequest, ToolSpec, UserMessage
from agent_runtime.providers import parse_route
from agent_runtime.wire.client import ProviderClient
from agent_runtime.wire.protocols import get_protocol
from agent_runtime.wire.sse import iter_events
from pytest_kylecode.emulator.script import parse_script
from pytest_kylecode.emulator.transport import EmulatorTransport
from pytest_kylecode.faults.catalog import FaultSpec
from pytest_kylecode.faults.transport import FaultTransport

SCRIPT = parse_script([{"text": "Looking.", "tool_calls": [{"name": "read_file", "arguments": {"path": "a.txt"}}]}])
TOOL = ToolSpec(
    "read_file", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
)
ROUTES = {
    "openai_chat": "openai/gpt-4o-mini",
    "anthropic_messages": "anthropic/claude-sonnet-4-5",
    "openai_responses": "openai-responses/gpt-4.1",
}
TIMEOUTS = Timeouts()


def _setup(fault: FaultSpec, route: str = "openai/gpt-4o-mini") -> tuple[FaultTransport, VirtualClock]:
    clock = VirtualClock()
    transport = FaultTransport(
        EmulatorTransport(SCRIPT, clock=clock), fault, primary=route, clock=clock, timeouts=TIMEOUTS
    )
    return transport, clock


def _raw(fault: FaultSpec, route: str, *, stream: bool) -> tuple[httpx.Response, bytes, VirtualClock]:
    """One request as the runtime would build it, answered through the fault; the raw body."""
    transport, clock = _setup(fault, route)
    r = parse_route(route)
    body = get_protocol(r.protocol).build_request(
        r.model, ModelRequest([UserMessage("hi")], [TOOL], stream), provider=r.provider.name
    )
    request = httpx.Request("POST", r.provider.endpoint({}), json=body, extensions={"kylecode.route": route})
    response = transport.handle_request(request)
    return response, b"".join(response.stream), clock  # type: ignore[arg-type]


def _call(fault: FaultSpec, route: str, *, stream: bool, clock: VirtualClock | None = None):  # type: ignore[no-untyped-def]
    transport, own_clock = _setup(fault, route)
    clock = clock or own_clock
    client = ProviderClient(httpx.Client(transport=transport), clock=own_clock, timeouts=TIMEOUTS, env={})
    return client.call(parse_route(route), ModelRequest([UserMessage("hi")], [TOOL], stream))


def _events(body: bytes) -> list[tuple[str | None, str]]:
    return [(e.event, e.data) for e in iter_events([body])]


# -- HTTP answers ------------------------------------------------------------------------------------

HTTP_CASES = [
    ("http_429", "openai/gpt-4o-mini", 429, "rate_limit"),
    ("http_429", "anthropic/claude-sonnet-4-5", 429, "rate_limit"),
    ("http_503", "openrouter/z-ai/glm-4.6", 503, "server_error"),
    ("http_529", "anthropic/claude-sonnet-4-5", 529, "overloaded"),
    ("http_401", "openai-responses/gpt-4.1", 401, "auth"),
    ("html_200", "openai/gpt-4o-mini", 200, "html_response"),
    ("html_502", "anthropic/claude-sonnet-4-5", 502, "html_response"),
    ("invalid_json", "openai-responses/gpt-4.1", 200, "invalid_json"),
    ("empty_response", "anthropic/claude-sonnet-4-5", 200, "empty_response"),
    ("tools_unsupported", "openrouter/z-ai/glm-4.6", 404, "tools_unsupported"),
    ("tools_unsupported", "anthropic/claude-sonnet-4-5", 400, "tools_unsupported"),
    ("tools_unsupported", "openai-responses/gpt-4.1", 400, "tools_unsupported"),
    ("context_length", "deepseek/deepseek-chat", 400, "context_length"),
    ("context_length", "anthropic/claude-sonnet-4-5", 400, "context_length"),
]


@pytest.mark.parametrize(("kind", "route", "status", "category"), HTTP_CASES)
@pytest.mark.parametrize("stream", [True, False])
def test_http_faults_answer_in_the_providers_shape(
    kind: str, route: str, status: int, category: str, stream: bool
) -> None:
    record = _call(FaultSpec(kind), route, stream=stream)
    assert record.status == status
    assert record.error is not None and record.error.category == category


def test_anthropic_529_is_the_real_75_byte_body() -> None:
    response, body, _ = _raw(FaultSpec("http_529"), "anthropic/claude-sonnet-4-5", stream=True)
    assert response.status_code == 529 and len(body) == 75
    assert json.loads(body)["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_429_carries_retry_after_that_the_client_reads() -> None:
    record = _call(FaultSpec("http_429"), "openai/gpt-4o-mini", stream=True)
    assert record.response_headers.get("retry-after") == "1"
    assert record.error is not None and record.error.retry_after == 1.0


def test_openrouter_tools_unsupported_is_its_real_404() -> None:
    response, body, _ = _raw(FaultSpec("tools_unsupported"), "openrouter/z-ai/glm-4.6", stream=False)
    assert response.status_code == 404
    assert json.loads(body)["error"]["message"].startswith("No endpoints found that support tool use.")


# -- transport and timing ------------------------------------------------------------------------------


def test_connect_error_raises_like_a_refused_connection() -> None:
    record = _call(FaultSpec("connect_error"), "openai/gpt-4o-mini", stream=True)
    assert record.status is None and record.error is not None and record.error.category == "connection"


@pytest.mark.parametrize("route", ROUTES.values())
def test_timeout_holds_the_first_byte_past_the_deadline(route: str) -> None:
    record = _call(FaultSpec("timeout"), route, stream=True)
    assert record.error is not None and record.error.category == "timeout"
    assert record.latency_ms >= TIMEOUTS.first_byte_s * 1000


def test_latency_delays_the_first_byte_on_the_virtual_clock() -> None:
    plain = _call(FaultSpec("none"), "openai/gpt-4o-mini", stream=True)
    slow = _call(FaultSpec("latency", ms=1500), "openai/gpt-4o-mini", stream=True)
    assert slow.ok and plain.ok
    assert slow.ttft_ms == pytest.approx(plain.ttft_ms + 1500)


# -- stream faults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES.values())
def test_stall_pauses_past_the_idle_timeout(route: str) -> None:
    record = _call(FaultSpec("stall"), route, stream=True)
    assert record.error is not None and record.error.category == "timeout"
    assert record.latency_ms >= (TIMEOUTS.idle_s + 1) * 1000


@pytest.mark.parametrize("route", ROUTES.values())
def test_truncated_stream_ends_before_the_finish(route: str) -> None:
    _, body, _ = _raw(FaultSpec("truncated_stream"), route, stream=True)
    events = _events(body)
    assert events and all('"finish_reason":"tool_calls"' not in data for _, data in events)
    assert ("message_delta",) not in [(e,) for e, _ in events]
    assert all(e != "response.completed" for e, _ in events) and (None, "[DONE]") not in events
    record = _call(FaultSpec("truncated_stream"), route, stream=True)
    assert record.error is not None and record.error.category == "stream_truncated"


@pytest.mark.parametrize(
    ("route", "marker"),
    [
        ("openai/gpt-4o-mini", '{"error": {"message": "The server had an error'),
        ("openrouter/z-ai/glm-4.6", '"error":{"code":"server_error"'),
        ("groq/llama-3.3-70b", '"status_code":503'),
        ("anthropic/claude-sonnet-4-5", '"overloaded_error"'),
        ("openai-responses/gpt-4.1", '"type":"error"'),
    ],
)
def test_sse_error_is_the_providers_in_band_error(route: str, marker: str) -> None:
    _, body, _ = _raw(FaultSpec("sse_error"), route, stream=True)
    assert marker in body.decode()
    record = _call(FaultSpec("sse_error"), route, stream=True)
    assert record.error is not None and record.error.category in ("stream_error", "overloaded", "server_error")


@pytest.mark.parametrize("route", ROUTES.values())
def test_malformed_sse_inserts_a_broken_data_line(route: str) -> None:
    _, body, _ = _raw(FaultSpec("malformed_sse"), route, stream=True)
    broken = [data for _, data in _events(body) if data.startswith("{") and not data.endswith("}")]
    assert len(broken) == 1
    record = _call(FaultSpec("malformed_sse"), route, stream=True)
    assert record.error is not None and record.error.category == "invalid_json"


# -- tool-call and content faults -----------------------------------------------------------------------


# Non-streamed Anthropic holds tool input as an object on the wire: no JSON text there to break.
TEXT_ARGUMENTS = [
    (route, stream)
    for stream in (True, False)
    for protocol, route in ROUTES.items()
    if (protocol, stream) != ("anthropic_messages", False)
]


@pytest.mark.parametrize(("route", "stream"), TEXT_ARGUMENTS)
def test_malformed_tool_args_reach_the_agent_as_a_parse_error(route: str, stream: bool) -> None:
    record = _call(FaultSpec("malformed_tool_args"), route, stream=stream)
    assert record.ok and record.response is not None
    call = record.response.tool_calls[0]
    assert call.name == "read_file" and call.parse_error and call.arguments == {}


def test_non_streamed_anthropic_malformed_tool_args_keep_input_an_object_with_its_strings_cut() -> None:
    response, body, _ = _raw(FaultSpec("malformed_tool_args"), ROUTES["anthropic_messages"], stream=False)
    block = next(b for b in json.loads(body)["content"] if b["type"] == "tool_use")
    assert response.status_code == 200 and block["input"] == {"path": "a."}


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("route", ROUTES.values())
def test_missing_tool_call_id_sends_an_empty_id(route: str, stream: bool) -> None:
    record = _call(FaultSpec("missing_tool_call_id"), route, stream=stream)
    assert record.ok and record.response is not None
    assert record.response.tool_calls[0].id == "" and record.response.tool_calls[0].arguments == {"path": "a.txt"}


def test_duplicate_tool_args_is_kimis_start_input_plus_repeated_deltas() -> None:
    _, body, _ = _raw(FaultSpec("duplicate_tool_args"), "moonshot-anthropic/kimi-k2", stream=True)
    payloads = [json.loads(data) for event, data in _events(body) if event and event.startswith("content_block")]
    start = next(p for p in payloads if p["type"] == "content_block_start" and p["content_block"]["type"] == "tool_use")
    assert start["content_block"]["input"] == {"path": "a.txt"}
    deltas = "".join(
        p["delta"]["partial_json"]
        for p in payloads
        if p["type"] == "content_block_delta" and p["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(deltas) == {"path": "a.txt"}  # naive start + deltas would give the object twice
    record = _call(FaultSpec("duplicate_tool_args"), "moonshot-anthropic/kimi-k2", stream=True)
    assert record.response is not None and record.response.tool_calls[0].arguments == {"path": "a.txt"}


def test_duplicate_tool_args_chat_analogue_repeats_the_arguments() -> None:
    _, body, _ = _raw(FaultSpec("duplicate_tool_args"), "openai/gpt-4o-mini", stream=True)
    fragments = []
    for _, data in _events(body):
        if data.startswith("{"):
            for choice in json.loads(data).get("choices", []):
                for call in (choice.get("delta") or {}).get("tool_calls") or []:
                    fragments.append(call["function"]["arguments"])
    assert "".join(fragments) == '{"path":"a.txt"}{"path":"a.txt"}'
    record = _call(FaultSpec("duplicate_tool_args"), "openai/gpt-4o-mini", stream=True)
    assert record.response is not None and record.response.tool_calls[0].arguments == {"path": "a.txt"}


@pytest.mark.parametrize(
    ("route", "raw"),
    [
        ("openai/gpt-4o-mini", "content_filter"),
        ("anthropic/claude-sonnet-4-5", "refusal"),
        ("openai-responses/gpt-4.1", "content_filter"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
def test_content_filter_stops_the_response_in_the_protocols_terms(route: str, raw: str, stream: bool) -> None:
    record = _call(FaultSpec("content_filter"), route, stream=stream)
    assert record.error is not None and record.error.category == "content_filter"
    assert record.response is not None and record.response.tool_calls == []
    assert record.response.raw_finish_reason == raw


# -- which calls are hit ---------------------------------------------------------------------------------


def test_at_and_times_select_the_calls() -> None:
    transport, clock = _setup(FaultSpec("http_503", at=2, times=2))
    client = ProviderClient(httpx.Client(transport=transport), clock=clock, timeouts=TIMEOUTS, env={})
    route = parse_route("openai/gpt-4o-mini")
    statuses = [client.call(route, ModelRequest([UserMessage("hi")], [TOOL], True)).status for _ in range(5)]
    assert statuses == [200, 503, 503, 200, 200]
    assert transport.injected == [2, 3]


def test_route_targets_only_that_route() -> None:
    clock = VirtualClock()
    fault = FaultSpec("http_503", times=9, route="openai/gpt-4.1-mini")
    transport = FaultTransport(
        EmulatorTransport(SCRIPT, clock=clock), fault, primary="openai/gpt-4o-mini", clock=clock, timeouts=TIMEOUTS
    )
    client = ProviderClient(httpx.Client(transport=transport), clock=clock, timeouts=TIMEOUTS, env={})
    request = ModelRequest([UserMessage("hi")], [TOOL], True)
    assert client.call(parse_route("openai/gpt-4o-mini"), request).status == 200
    assert client.call(parse_route("openai/gpt-4.1-mini"), request).status == 503
    assert transport.targeted_calls == 1
