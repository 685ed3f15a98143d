"""ProviderClient: one HTTP call, timed on the clock, every failure classified, never raising."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import pytest

from agent_runtime.clock import VirtualClock
from agent_runtime.config import Timeouts
from agent_runtime.messages import ModelRequest, ToolSpec, Usage, UserMessage
from agent_runtime.providers import parse_route
from agent_runtime.wire.client import ROUTE_EXTENSION, BodyDecoder, ProviderClient
from agent_runtime.wire.protocols import get_protocol

TIMEOUTS = Timeouts(connect_s=10, first_byte_s=60, idle_s=30)
SSE = {"content-type": "text/event-stream; charset=utf-8"}
JSON = {"content-type": "application/json"}
CHAT = parse_route("openai/gpt-4o-mini")
ANTHROPIC = parse_route("anthropic/claude-sonnet-4-5")
RESPONSES = parse_route("openai-responses/gpt-4.1")


def request(stream: bool = True, tools: bool = True) -> ModelRequest:
    spec = [ToolSpec("get_capital", "", {"type": "object", "properties": {}})] if tools else None
    return ModelRequest([UserMessage("capital of UK?")], spec, stream=stream)


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return (
        "data: "
        + json.dumps(
            {"id": "c1", "model": "gpt-4o-mini", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        )
        + "\n\n"
    ).encode()


TOOL_STREAM: list[bytes] = [
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function", "function": {"name": "get_capital", "arguments": ""}}
            ],
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"country":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"UK"}'}}]}),
    chunk({}, "tool_calls"),
    b'data: {"id":"c1","choices":[],"usage":{"prompt_tokens":53,"completion_tokens":15}}\n\n',
    b"data: [DONE]\n\n",
]


class Harness:
    """A ProviderClient over an httpx MockTransport on a VirtualClock; records what was sent."""

    def __init__(
        self,
        handler: Callable[[httpx.Request, VirtualClock], httpx.Response],
        env: dict[str, str] | None = None,
        timeouts: Timeouts = TIMEOUTS,
    ) -> None:
        self.clock = VirtualClock(1000.0)
        self.sent: list[httpx.Request] = []

        def transport(req: httpx.Request) -> httpx.Response:
            self.sent.append(req)
            return handler(req, self.clock)

        self.http = httpx.Client(transport=httpx.MockTransport(transport))
        self.client = ProviderClient(
            self.http,
            clock=self.clock,
            timeouts=timeouts,
            env={"OPENAI_API_KEY": "sk-test", "ANTHROPIC_API_KEY": "ak-test", **(env or {})},
        )


class Body(httpx.SyncByteStream):
    """A response body read from an iterator (httpx adds no header for it, unlike ``content=``)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks


def timed(
    chunks: Sequence[tuple[float, bytes]], status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request, VirtualClock], httpx.Response]:
    """Answers with ``chunks``, each due ``offset`` seconds after the request on the virtual clock."""

    def handler(req: httpx.Request, clock: VirtualClock) -> httpx.Response:
        sent = clock.now()

        def arriving() -> Iterator[bytes]:
            for offset, data in chunks:
                if sent + offset > clock.now():
                    clock.sleep(sent + offset - clock.now())
                yield data

        return httpx.Response(status, headers=headers or SSE, stream=Body(arriving()))

    return handler


def fixed(
    status: int, body: bytes, headers: dict[str, str] | None = None
) -> Callable[[httpx.Request, VirtualClock], httpx.Response]:
    return lambda req, clock: httpx.Response(status, headers=headers or JSON, content=body)


# -- success ------------------------------------------------------------------------------------------


def test_streamed_tool_call_with_ttft_and_latency_from_the_virtual_clock() -> None:
    offsets = [0.25, 0.5, 0.75, 1.0, 1.1, 1.2]
    h = Harness(timed(list(zip(offsets, TOOL_STREAM, strict=True))))
    record = h.client.call(CHAT, request())
    assert record.ok and record.error is None
    assert record.ttft_ms == pytest.approx(250.0)
    assert record.latency_ms == pytest.approx(1200.0)
    assert record.started == 1000.0
    assert record.status == 200 and record.raw == b"".join(TOOL_STREAM)
    response = record.response
    assert response is not None
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [("call_1", "get_capital", {"country": "UK"})]
    assert (response.finish_reason, response.usage) == ("tool_calls", Usage(53, 15))


def test_request_as_sent_url_headers_body_and_route_extension() -> None:
    h = Harness(timed([(0.1, b"".join(TOOL_STREAM))]))
    record = h.client.call(CHAT, request())
    sent = h.sent[0]
    assert str(sent.url) == "https://api.openai.com/v1/chat/completions" == record.url
    assert sent.headers["authorization"] == "Bearer sk-test"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["user-agent"].startswith("kylecode/")
    assert sent.extensions[ROUTE_EXTENSION] == "openai/gpt-4o-mini"
    assert isinstance(sent.extensions["timeout"], dict) and sent.extensions["timeout"]["read"] == 60
    assert sent.extensions["timeout"]["connect"] == 10
    body = json.loads(sent.content)
    assert (
        body
        == record.request_body
        == get_protocol("openai_chat").build_request("gpt-4o-mini", request(), provider="openai")
    )
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert record.request_headers["authorization"] == "Bearer sk-test"
    assert record.route == "openai/gpt-4o-mini" and record.stream is True


def test_base_url_override_and_explicit_key() -> None:
    h = Harness(timed([(0.0, b"".join(TOOL_STREAM))]), env={"KYLECODE_ANTHROPIC_BASE_URL": "http://127.0.0.1:9/v1"})
    h.client.call(ANTHROPIC, request(), key="explicit")
    sent = h.sent[0]
    assert str(sent.url) == "http://127.0.0.1:9/v1/messages"
    assert sent.headers["x-api-key"] == "explicit" and sent.headers["anthropic-version"] == "2023-06-01"
    h.client.call(ANTHROPIC, request(), key=None)
    assert "x-api-key" not in h.sent[1].headers


def test_non_streaming_json_response() -> None:
    body = {
        "id": "msg_1",
        "model": "claude",
        "type": "message",
        "stop_reason": "end_turn",
        "content": [{"type": "text", "text": "London."}],
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }
    h = Harness(fixed(200, json.dumps(body).encode()))
    record = h.client.call(ANTHROPIC, request(stream=False))
    assert record.ok and record.response is not None and record.response.text == "London."
    assert h.sent[0].headers["accept"] == "application/json" and "stream" not in json.loads(h.sent[0].content)
    assert record.ttft_ms == 0.0 and record.latency_ms == 0.0


def test_gzip_body_is_decoded_and_raw_keeps_decoded_bytes() -> None:
    body = json.dumps({"choices": [{"finish_reason": "stop", "message": {"content": "hi"}}]}).encode()
    h = Harness(fixed(200, gzip.compress(body), {**JSON, "content-encoding": "gzip"}))
    record = h.client.call(CHAT, request(stream=False))
    assert record.ok and record.raw == body and record.response.text == "hi"  # type: ignore[union-attr]


def test_responses_route_streams_through_its_own_decoder() -> None:
    events = [
        ("response.created", {"response": {"id": "r", "model": "gpt-4.1", "status": "in_progress", "output": []}}),
        ("response.output_text.delta", {"output_index": 0, "content_index": 0, "item_id": "m", "delta": "Paris"}),
        (
            "response.completed",
            {
                "response": {
                    "id": "r",
                    "status": "completed",
                    "output": [],
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                }
            },
        ),
    ]
    raw = b"".join(f"event: {t}\ndata: {json.dumps({'type': t, **d})}\n\n".encode() for t, d in events)
    record = Harness(timed([(0.2, raw)])).client.call(RESPONSES, request())
    assert record.ok and record.response.text == "Paris" and record.response.usage == Usage(3, 1)  # type: ignore[union-attr]


# -- timeouts on the clock ----------------------------------------------------------------------------


def test_stall_past_idle_timeout_is_a_timeout() -> None:
    chunks = [(0.1, TOOL_STREAM[0]), (0.2, TOOL_STREAM[1]), (0.2 + 31.0, TOOL_STREAM[2]), (31.3, TOOL_STREAM[3])]
    h = Harness(timed(chunks))
    record = h.client.call(CHAT, request())
    assert not record.ok and record.error is not None
    assert record.error.category == "timeout" and "idle_s=30" in record.error.message
    assert record.error.status == 200
    assert record.raw == TOOL_STREAM[0] + TOOL_STREAM[1]  # bytes received before the stall
    assert record.ttft_ms == pytest.approx(100.0)
    assert record.latency_ms == pytest.approx(31200.0)
    assert record.response is None


def test_stall_then_close_is_a_timeout_not_a_truncation() -> None:
    # The stream goes silent past idle_s and the connection then ends: the stall is what happened.
    chunks = [(0.1, TOOL_STREAM[0]), (0.2, TOOL_STREAM[1]), (40.0, b"")]
    record = Harness(timed(chunks)).client.call(CHAT, request())
    assert record.error is not None and record.error.category == "timeout"


def test_gap_just_within_idle_timeout_is_fine() -> None:
    chunks = [(0.0, TOOL_STREAM[0]), (30.0, b"".join(TOOL_STREAM[1:]))]
    record = Harness(timed(chunks)).client.call(CHAT, request())
    assert record.ok, record.error


def test_first_byte_timeout() -> None:
    record = Harness(timed([(61.0, b"".join(TOOL_STREAM))])).client.call(CHAT, request())
    assert record.error is not None and record.error.category == "timeout"
    assert "first_byte_s=60" in record.error.message
    assert record.ttft_ms == pytest.approx(61000.0) and record.latency_ms == pytest.approx(61000.0)


def test_latency_within_first_byte_budget_counts_in_ttft() -> None:
    record = Harness(timed([(5.0, b"".join(TOOL_STREAM))])).client.call(CHAT, request())
    assert record.ok and record.ttft_ms == pytest.approx(5000.0)


def test_custom_timeouts_apply() -> None:
    timeouts = Timeouts(connect_s=1, first_byte_s=2, idle_s=1)
    h = Harness(timed([(0.5, TOOL_STREAM[0]), (1.6, b"".join(TOOL_STREAM[1:]))]), timeouts=timeouts)
    record = h.client.call(CHAT, request())
    assert record.error is not None and record.error.category == "timeout"


# -- stream failures ----------------------------------------------------------------------------------


def test_truncated_stream() -> None:
    record = Harness(timed([(0.1, b"".join(TOOL_STREAM[:3]))])).client.call(CHAT, request())
    assert record.error is not None and record.error.category == "stream_truncated"
    assert record.response is not None and record.response.finish_reason == "error"
    assert record.raw == b"".join(TOOL_STREAM[:3])


def test_connection_dropped_mid_body_is_stream_truncated() -> None:
    class Dropping(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield TOOL_STREAM[0]
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    h = Harness(lambda req, clock: httpx.Response(200, headers=SSE, stream=Dropping()))
    record = h.client.call(CHAT, request())
    assert record.error is not None and record.error.category == "stream_truncated"
    assert record.error.status == 200 and record.raw == TOOL_STREAM[0]


def test_inband_error_in_a_200_stream() -> None:
    error = b'data: {"error": {"message": "The server had an error", "type": "server_error"}}\n\n'
    record = Harness(timed([(0.1, TOOL_STREAM[0]), (0.2, error)])).client.call(CHAT, request())
    assert record.error is not None and record.error.category == "stream_error"
    assert record.error.status == 200 and "The server had an error" in record.error.message
    assert record.response is not None and record.response.finish_reason == "error"


def test_anthropic_overloaded_error_event() -> None:
    raw = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c","usage":'
        b'{"input_tokens":1,"output_tokens":1}}}\n\n'
        b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'
    )
    record = Harness(timed([(0.1, raw)])).client.call(ANTHROPIC, request())
    assert record.error is not None and record.error.category == "overloaded"


def test_malformed_sse_line() -> None:
    raw = TOOL_STREAM[0] + b'data: {"id":"chatcmpl-x","object":"chat.com\n\n'
    record = Harness(timed([(0.1, raw)])).client.call(CHAT, request())
    assert record.error is not None and record.error.category == "invalid_json"


def test_content_filter_finish_is_an_error() -> None:
    raw = chunk({"content": "I"}) + chunk({}, "content_filter") + b"data: [DONE]\n\n"
    record = Harness(timed([(0.1, raw)])).client.call(CHAT, request())
    assert record.error is not None and record.error.category == "content_filter"
    assert record.response is not None and record.response.finish_reason == "content_filter"


# -- HTTP and body failures ---------------------------------------------------------------------------


def test_429_with_retry_after() -> None:
    body = b'{"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}'
    record = Harness(fixed(429, body, {**JSON, "retry-after": "1"})).client.call(CHAT, request())
    assert record.error is not None
    assert (record.error.category, record.error.retry_after, record.error.status) == ("rate_limit", 1.0, 429)
    assert record.status == 429 and record.raw == body and record.response is None
    assert record.response_headers["retry-after"] == "1"


def test_html_200() -> None:
    page = b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>cf</body></html>"
    for headers in ({"content-type": "text/html"}, SSE, JSON):
        record = Harness(timed([(0.1, page)], headers=headers)).client.call(CHAT, request())
        assert record.error is not None and record.error.category == "html_response", headers
        assert record.raw == page


def test_html_502_gateway_page() -> None:
    record = Harness(fixed(502, b"<html><body>Bad Gateway</body></html>", {"content-type": "text/html"})).client.call(
        CHAT, request()
    )
    assert record.error is not None and (record.error.category, record.error.status) == ("html_response", 502)


def test_invalid_json_and_empty_bodies() -> None:
    cut = Harness(fixed(200, b'{"id": "x", ')).client.call(CHAT, request(stream=False))
    assert cut.error is not None and cut.error.category == "invalid_json"
    empty = Harness(fixed(200, b"")).client.call(CHAT, request(stream=False))
    assert empty.error is not None and empty.error.category == "empty_response"
    empty_stream = Harness(timed([], headers=SSE)).client.call(CHAT, request())
    assert empty_stream.error is not None and empty_stream.error.category == "empty_response"


def test_tools_unsupported_404() -> None:
    body = (
        b'{"error":{"message":"No endpoints found that support tool use. To learn more about provider routing, '
        b'visit: https://openrouter.ai/docs/guides/routing/provider-selection","code":404}}'
    )
    record = Harness(fixed(404, body)).client.call(parse_route("openrouter/z-ai/glm-4.6"), request())
    assert record.error is not None and record.error.category == "tools_unsupported"


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (httpx.ConnectError("connection refused"), "connection"),
        (httpx.ConnectTimeout("timed out"), "timeout"),
        (httpx.ReadTimeout("timed out"), "timeout"),
    ],
)
def test_transport_errors_before_the_response(exc: Exception, category: str) -> None:
    def handler(req: httpx.Request, clock: VirtualClock) -> httpx.Response:
        clock.sleep(2.0)
        raise exc

    record = Harness(handler).client.call(CHAT, request())
    assert record.error is not None and record.error.category == category
    assert record.status is None and record.error.status is None and record.response is None
    assert record.latency_ms == pytest.approx(2000.0) and record.ttft_ms is None


def test_unexpected_bugs_are_not_swallowed() -> None:
    def handler(req: httpx.Request, clock: VirtualClock) -> httpx.Response:
        raise ZeroDivisionError("a bug in a transport")

    with pytest.raises(ZeroDivisionError):
        Harness(handler).client.call(CHAT, request())


# -- BodyDecoder, shared with the cassette normalizer -------------------------------------------------


def test_body_decoder_fed_in_any_chunking_gives_the_same_result() -> None:
    body = b"".join(TOOL_STREAM)
    protocol = get_protocol("openai_chat")
    whole = BodyDecoder(protocol, 200, SSE, streaming=True)
    whole.feed(body)
    pieces = BodyDecoder(protocol, 200, SSE, streaming=True)
    events = [e for i in range(0, len(body), 7) for e in pieces.feed(body[i : i + 7])]
    assert whole.finish() == pieces.finish()
    assert [e.kind for e in events][:2] == ["tool_call_started", "tool_call_args"]


def test_body_decoder_uses_the_stream_flag_when_the_content_type_is_missing() -> None:
    decoder = BodyDecoder(get_protocol("openai_chat"), 200, {}, streaming=True)
    decoder.feed(b"".join(TOOL_STREAM))
    response, error = decoder.finish()
    assert error is None and response is not None and response.finish_reason == "tool_calls"


def test_json_answer_under_an_event_stream_content_type_is_parsed_as_json() -> None:
    body = json.dumps({"choices": [{"finish_reason": "stop", "message": {"content": "plain"}}]}).encode()
    decoder = BodyDecoder(get_protocol("openai_chat"), 200, SSE, streaming=True)
    decoder.feed(body)
    response, error = decoder.finish()
    assert error is None and response is not None and response.text == "plain"


@pytest.mark.parametrize(
    ("body", "category"),
    [
        (b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\n", "stream_truncated"),
        (b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hel', "stream_truncated"),
        (b"", "empty_response"),
        (b"<html><body>Just a moment</body></html>", "html_response"),
        (b"garbage", "invalid_json"),
    ],
)
def test_event_stream_bodies_without_a_complete_event(body: bytes, category: str) -> None:
    decoder = BodyDecoder(get_protocol("openai_chat"), 200, SSE, streaming=True)
    decoder.feed(body)
    error = decoder.finish()[1]
    assert error is not None and (error.category, error.status) == (category, 200)
