"""The emulator over real HTTP, with the official SDKs (on httpx2) as clients.

If the emulator's bytes differ in shape from real provider traffic, these SDKs fail to parse them
or reassemble something else than the script.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import openai
import pytest

from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport, parse_script
from pytest_kylecode.loopback import LoopbackServer

from .emulated import request_body, sse_events

SCRIPT = [
    {
        "text": "Looking around.",
        "tool_calls": [
            {"name": "list_dir", "arguments": {"path": "."}},
            {"name": "read_file", "arguments": {"path": "src/fs.c", "limit": 20, "flags": [True, None]}},
        ],
    },
    {
        "text": "Naïve check ✓ done.",
        "tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "README.md and src/fs.c — ok"}}],
    },
]
TURN1 = [("list_dir", {"path": "."}), ("read_file", {"path": "src/fs.c", "limit": 20, "flags": [True, None]})]
TURN2 = [("mark_task_complete", {"summary": "README.md and src/fs.c — ok"})]
SCHEMA = {"type": "object", "properties": {}}
CHAT_TOOLS: Any = [
    {"type": "function", "function": {"name": n, "description": "", "parameters": SCHEMA}}
    for n in ("list_dir", "read_file", "mark_task_complete")
]
FLAT_TOOLS: Any = [
    {"type": "function", "name": n, "description": "", "parameters": SCHEMA, "strict": False}
    for n in ("list_dir", "read_file", "mark_task_complete")
]
ANTHROPIC_TOOLS: Any = [
    {"name": n, "description": "", "input_schema": SCHEMA} for n in ("list_dir", "read_file", "mark_task_complete")
]
TIMEOUT = 5.0


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(EmulatorTransport(parse_script(SCRIPT), timing=IMMEDIATE)) as srv:
        yield srv


@pytest.fixture
def oai(server: LoopbackServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.url + "/v1", api_key="sk-test", max_retries=0, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture
def claude(server: LoopbackServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0, timeout=TIMEOUT) as client:
        yield client


def _chat_calls(message: Any) -> list[tuple[str, Any]]:
    return [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls]


# -- OpenAI Chat Completions -------------------------------------------------------------------------


def test_openai_chat_non_streaming_tool_calls(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}], tools=CHAT_TOOLS
    )
    (choice,) = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Looking around."
    assert _chat_calls(choice.message) == TURN1
    assert all(c.id.startswith("call_") for c in choice.message.tool_calls)
    assert completion.usage is not None and completion.usage.completion_tokens > 0


def test_openai_chat_streaming_tool_calls(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "go"}],
        tools=CHAT_TOOLS,
        stream_options={"include_usage": True},
    ) as stream:
        final = stream.get_final_completion()
    message = final.choices[0].message
    assert message.content == "Looking around."
    assert _chat_calls(message) == TURN1
    assert final.choices[0].finish_reason == "tool_calls"
    assert final.usage is not None and final.usage.prompt_tokens > 0


def test_openai_chat_raw_stream_chunks(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "go"}],
            tools=CHAT_TOOLS,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    args: dict[int, str] = {}
    for chunk in chunks[:-1]:
        for call in chunk.choices[0].delta.tool_calls or []:
            args[call.index] = args.get(call.index, "") + (call.function.arguments or "")
    assert [json.loads(a) for _, a in sorted(args.items())] == [a for _, a in TURN1]


def test_openai_chat_second_turn(oai: openai.OpenAI) -> None:
    messages: Any = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": "Looking around.",
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "README.md"},
    ]
    for stream in (False, True):
        if stream:
            with oai.chat.completions.stream(model="gpt-4o-mini", messages=messages, tools=CHAT_TOOLS) as s:
                message = s.get_final_completion().choices[0].message
        else:
            message = (
                oai.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=CHAT_TOOLS).choices[0].message
            )
        assert message.content == "Naïve check ✓ done."
        assert _chat_calls(message) == TURN2


def test_openai_chat_text_dialect_without_tools(oai: openai.OpenAI) -> None:
    from agent_runtime.dialect import format_tool_call

    completion = oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}])
    message = completion.choices[0].message
    assert not message.tool_calls
    assert message.content == "\n\n".join(["Looking around.", *(format_tool_call(n, a) for n, a in TURN1)])


# -- Anthropic Messages ------------------------------------------------------------------------------


def _anthropic_calls(message: Any) -> list[tuple[str, Any]]:
    return [(b.name, b.input) for b in message.content if b.type == "tool_use"]


def test_anthropic_stream_final_message(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-emulated-1", max_tokens=1024, tools=ANTHROPIC_TOOLS, messages=[{"role": "user", "content": "go"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use", "tool_use"]
    assert message.content[0].text == "Looking around."  # type: ignore[union-attr]
    assert _anthropic_calls(message) == TURN1
    assert message.usage.output_tokens > 1 and message.usage.input_tokens > 0


def test_anthropic_non_streaming_and_second_turn(claude: anthropic.Anthropic) -> None:
    first = claude.messages.create(
        model="claude-emulated-1", max_tokens=1024, tools=ANTHROPIC_TOOLS, messages=[{"role": "user", "content": "go"}]
    )
    assert _anthropic_calls(first) == TURN1
    history: Any = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": b.id, "content": "ok"}
                for b in first.content
                if b.type == "tool_use"
            ],
        },
    ]
    with claude.messages.stream(
        model="claude-emulated-1", max_tokens=1024, tools=ANTHROPIC_TOOLS, messages=history
    ) as stream:
        second = stream.get_final_message()
    assert second.content[0].text == "Naïve check ✓ done."  # type: ignore[union-attr]
    assert _anthropic_calls(second) == TURN2


# -- OpenAI Responses --------------------------------------------------------------------------------


def _response_calls(response: Any) -> list[tuple[str, Any]]:
    return [(o.name, json.loads(o.arguments)) for o in response.output if o.type == "function_call"]


def test_openai_responses_create_and_stream(oai: openai.OpenAI) -> None:
    created = oai.responses.create(model="gpt-4.1", input="go", tools=FLAT_TOOLS)
    assert created.status == "completed" and created.output_text == "Looking around."
    assert _response_calls(created) == TURN1
    with oai.responses.stream(model="gpt-4.1", input="go", tools=FLAT_TOOLS) as stream:
        final = stream.get_final_response()
    assert final.output_text == "Looking around." and _response_calls(final) == TURN1
    assert final.usage is not None and final.usage.total_tokens > 0
    assert final.id == created.id  # same request, same bytes


def test_openai_responses_second_turn_stateless(oai: openai.OpenAI) -> None:
    first = oai.responses.create(model="gpt-4.1", input="go", tools=FLAT_TOOLS)
    replay: Any = [{"role": "user", "content": "go"}]
    replay += [o.model_dump(exclude_none=True) for o in first.output]
    replay += [
        {"type": "function_call_output", "call_id": o.call_id, "output": "ok"}
        for o in first.output
        if o.type == "function_call"
    ]
    second = oai.responses.create(model="gpt-4.1", input=replay, tools=FLAT_TOOLS, stream=False)
    assert second.output_text == "Naïve check ✓ done." and _response_calls(second) == TURN2


# -- streaming really streams ------------------------------------------------------------------------


class _Gated(httpx.BaseTransport):
    """Sends the first chunk, then holds the rest until the test has seen it arrive."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.gate = inner, threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        chunks = list(response.stream)  # type: ignore[arg-type]

        def body() -> Iterator[bytes]:
            yield chunks[0]
            if self.gate.wait(TIMEOUT):
                yield from chunks[1:]

        return httpx.Response(response.status_code, headers=response.headers, content=body())


def _read_until(sock: socket.socket, buf: bytes, done: Any) -> bytes:
    while not done(buf):
        data = sock.recv(65536)
        if not data:
            break
        buf += data
    return buf


def test_sse_events_arrive_as_separate_http_chunks() -> None:
    gated = _Gated(EmulatorTransport(parse_script(SCRIPT), timing=IMMEDIATE))
    body = json.dumps(request_body("anthropic_messages", stream=True)).encode()
    with LoopbackServer(gated) as srv, socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as sock:
        sock.sendall(
            b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        # The rest of the body is held back: this returns only if the first event was flushed on its own.
        buf = _read_until(sock, b"", lambda b: b"\r\n\r\n" in b and b.split(b"\r\n\r\n", 1)[1].count(b"\r\n") >= 2)
        head, rest = buf.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 ") and b"transfer-encoding: chunked" in head.lower()
        assert b"content-type: text/event-stream; charset=utf-8" in head.lower()
        size, first = rest.split(b"\r\n", 1)
        assert first.startswith(b"event: message_start\n") and b"message_stop" not in rest
        gated.gate.set()
        rest = _read_until(sock, rest, lambda b: False)
    chunks = []
    while rest:
        size_line, rest = rest.split(b"\r\n", 1)
        size = int(size_line, 16)
        chunks.append(rest[:size])
        assert rest[size : size + 2] == b"\r\n"
        rest = rest[size + 2 :]
    assert chunks[-1] == b""  # the terminating chunk: the response ended properly
    assert all(len(sse_events(c)) == 1 for c in chunks[:-1])  # one SSE event per HTTP chunk
    assert sse_events(chunks[-2])[0][0] == "message_stop"


def test_server_drops_the_connection_when_the_transport_fails() -> None:
    class Failing(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused")

    with (
        LoopbackServer(Failing()) as srv,
        httpx.Client(timeout=TIMEOUT) as client,
        pytest.raises(httpx.RemoteProtocolError),
    ):
        client.post(srv.url + "/v1/chat/completions", json={})


# -- faults served to the SDKs -----------------------------------------------------------------------


def _faulted_server(kind: str, times: int = 1) -> LoopbackServer:
    from agent_runtime.clock import SystemClock
    from pytest_kylecode.commands.emulate import serve_transport
    from pytest_kylecode.faults.catalog import FaultSpec

    clock = SystemClock()
    inner = EmulatorTransport(parse_script(SCRIPT), clock=clock, timing=IMMEDIATE)
    return LoopbackServer(serve_transport(inner, FaultSpec(kind, times=times, route="any"), clock))


def test_http_fault_reaches_the_sdk_then_the_script_resumes() -> None:
    with (
        _faulted_server("http_429") as srv,
        openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-test", max_retries=0, timeout=TIMEOUT) as client,
    ):
        with pytest.raises(openai.RateLimitError) as info:
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}], tools=CHAT_TOOLS
            )
        assert info.value.response.headers["retry-after"] == "1"
        assert info.value.code == "rate_limit_exceeded"
        retry = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "go"}], tools=CHAT_TOOLS
        )
        assert _chat_calls(retry.choices[0].message) == TURN1


def test_in_stream_error_reaches_the_anthropic_sdk() -> None:
    with (
        _faulted_server("sse_error") as srv,
        anthropic.Anthropic(base_url=srv.url, api_key="k", max_retries=0, timeout=TIMEOUT) as client,
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        client.messages.stream(
            model="claude-emulated-1",
            max_tokens=64,
            tools=ANTHROPIC_TOOLS,
            messages=[{"role": "user", "content": "go"}],
        ) as stream,
    ):
        stream.get_final_message()


def test_truncated_stream_reaches_the_responses_sdk() -> None:
    with (
        _faulted_server("truncated_stream") as srv,
        openai.OpenAI(base_url=srv.url + "/v1", api_key="sk-test", max_retries=0, timeout=TIMEOUT) as client,
    ):
        seen: list[str] = []
        with (
            pytest.raises(RuntimeError),  # the SDK has no final response to give
            client.responses.stream(model="gpt-4.1", input="go", tools=FLAT_TOOLS) as stream,
        ):
            seen += (event.type for event in stream)
            stream.get_final_response()
    assert "response.created" in seen and "response.completed" not in seen  # cut before the end


# -- waits on the LoopbackClock: kept, and holding no thread -------------------------------------------


def test_paced_streams_keep_their_timing_and_share_two_workers() -> None:
    import asyncio
    import time

    from pytest_kylecode.loopback import Limits, LoopbackClock
    from pytest_kylecode.wire import Timing

    timing = Timing(first_byte_s=0.3, per_event_s=0.05)
    transport = EmulatorTransport(parse_script(SCRIPT), clock=LoopbackClock(), timing=timing)
    body = json.dumps(request_body("openai_chat", stream=True)).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )

    async def one(port: int) -> tuple[float, float, bytes]:
        start = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(request)
        first = await reader.read(1)
        first_at = time.monotonic() - start
        rest = await reader.read(-1)
        writer.close()
        return first_at, time.monotonic() - start, first + rest

    async def clients(port: int) -> list[tuple[float, float, bytes]]:
        async with asyncio.timeout(30):
            return await asyncio.gather(*(one(port) for _ in range(20)))

    with LoopbackServer(transport, limits=Limits(workers=2)) as srv:
        started = time.monotonic()
        results = asyncio.run(clients(srv.port))
        wall = time.monotonic() - started
    for first_at, took, answer in results:
        events = answer.count(b"data: ")
        assert first_at >= timing.first_byte_s  # status and headers wait for the first event
        assert took >= timing.first_byte_s + (events - 1) * timing.per_event_s - 0.01
        assert answer.rstrip().endswith(b"0")  # the whole stream, its last chunk included
    one_stream = timing.first_byte_s + 20 * timing.per_event_s
    # 20 paced streams on two worker threads at once: the waits are the loop's, not the workers'.
    assert wall < 5 * one_stream, wall


def test_a_closed_server_does_not_start_again_and_says_so() -> None:
    server = LoopbackServer(EmulatorTransport(parse_script(SCRIPT), timing=IMMEDIATE))
    with server, httpx.Client(timeout=TIMEOUT) as client:
        assert (
            client.post(server.url + "/v1/chat/completions", json=request_body("openai_chat", stream=False)).status_code
            == 200
        )
    with pytest.raises(RuntimeError, match="did not start"):
        server.start()
    with httpx.Client(timeout=TIMEOUT) as client, pytest.raises(httpx.ConnectError):
        client.post(server.url + "/v1/chat/completions", json={})  # the port was released
