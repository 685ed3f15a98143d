from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from agent_runtime.clock import VirtualClock
from pytest_kylecode.emulator import IMMEDIATE, EmulatorTransport, Turn, for_provider, protocol_for_path
from pytest_kylecode.timed_body import TimedByteStream

from ..emulated import request_body, sse_events


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(100.0)


@pytest.fixture
def client(two_calls_script: list[Turn], clock: VirtualClock) -> Iterator[httpx.Client]:
    with httpx.Client(transport=EmulatorTransport(two_calls_script, clock=clock)) as c:
        yield c


@pytest.mark.parametrize(
    ("path", "protocol"),
    [
        ("/v1/chat/completions", "openai_chat"),
        ("/api/v1/chat/completions", "openai_chat"),
        ("/api/paas/v4/chat/completions/", "openai_chat"),
        ("/v1/messages", "anthropic_messages"),
        ("/anthropic/v1/messages", "anthropic_messages"),
        ("/v1/responses", "openai_responses"),
        ("/v1/models", None),
        ("/v1/messages/count_tokens", None),
    ],
)
def test_routing_by_path_suffix(path: str, protocol: str | None) -> None:
    assert protocol_for_path(path) == protocol


def test_stream_plays_on_the_clock_one_event_per_chunk(client: httpx.Client, clock: VirtualClock) -> None:
    body = request_body("openai_chat", stream=True)
    with client.stream("POST", "https://openrouter.ai/api/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert clock.now() == 100.0  # nothing is due before the body is read
        raw = response.iter_raw()
        first = next(raw)
        assert clock.now() == pytest.approx(100.25)  # first byte at 0.25 s
        rest = list(raw)
    assert len(sse_events(first)) == 1 and all(len(sse_events(c)) == 1 for c in rest)
    assert rest[-1] == b"data: [DONE]\n\n"
    assert clock.now() == pytest.approx(100.25 + 0.02 * len(rest))


def test_handle_request_returns_a_timed_stream_for_wrappers(two_calls_script: list[Turn], clock: VirtualClock) -> None:
    """What a FaultTransport sees from its inner emulator: the chunks and their offsets."""
    transport = EmulatorTransport(two_calls_script, clock=clock)
    request = httpx.Request(
        "POST", "https://api.openai.com/v1/responses", json=request_body("openai_responses", stream=True)
    )
    response = transport.handle_request(request)
    assert isinstance(response.stream, TimedByteStream) and response.stream.start == 100.0
    chunks = response.stream.chunks
    assert chunks[0][0] == 0.25 and chunks[0][1].startswith(b"event: response.created\n")
    assert response.request is request
    response.close()


def test_json_response_has_content_length_and_arrives_at_once(client: httpx.Client, clock: VirtualClock) -> None:
    body = request_body("anthropic_messages", stream=False)
    response = client.post("https://api.anthropic.com/v1/messages", json=body)
    assert response.status_code == 200
    assert int(response.headers["content-length"]) == len(response.content)
    assert response.json()["stop_reason"] == "tool_use"
    assert clock.now() > 100.25


def test_multi_turn_through_the_transport(client: httpx.Client) -> None:
    body = request_body("openai_responses", stream=False, assistant_turns=1)
    output = client.post("http://127.0.0.1:1/v1/responses", json=body).json()["output"]
    assert [o.get("name") for o in output if o["type"] == "function_call"] == ["mark_task_complete"]


def test_unknown_path_is_a_404_json_error(client: httpx.Client) -> None:
    response = client.post("https://api.openai.com/v1/embeddings", json={"input": "x"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "unknown_url"
    assert client.get("https://api.openai.com/v1/chat/completions").status_code == 404


def test_bad_json_is_a_400_in_the_protocols_shape(client: httpx.Client) -> None:
    chat = client.post("https://api.openai.com/v1/chat/completions", content=b"{not json")
    assert chat.status_code == 400 and chat.json()["error"]["type"] == "invalid_request_error"
    assert "parse the JSON body" in chat.json()["error"]["message"]
    anthropic = client.post("https://api.anthropic.com/v1/messages", content=b"[1, 2]")
    assert anthropic.status_code == 400 and anthropic.json()["type"] == "error"
    assert anthropic.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body", "fragment"),
    [
        ("/v1/chat/completions", {"model": "m"}, "messages"),
        ("/v1/messages", {"model": "m", "messages": [{"role": "user", "content": "x"}]}, "max_tokens"),
        ("/v1/responses", {"model": "m", "input": []}, "input"),
    ],
)
def test_invalid_requests_are_refused(client: httpx.Client, path: str, body: dict, fragment: str) -> None:
    response = client.post("http://emulator" + path, json=body)
    assert response.status_code == 400 and fragment in json.dumps(response.json())


def test_immediate_timing_costs_no_time(two_calls_script: list[Turn], clock: VirtualClock) -> None:
    with httpx.Client(transport=EmulatorTransport(two_calls_script, clock=clock, timing=IMMEDIATE)) as c:
        c.post("http://x/v1/chat/completions", json=request_body("openai_chat", stream=True)).read()
    assert clock.now() == 100.0


def test_empty_script_is_refused() -> None:
    with pytest.raises(ValueError):
        EmulatorTransport([])


@pytest.mark.parametrize(
    ("provider", "event_line"),
    [
        ("openrouter", b"data: "),
        ("groq", b"event: error\n"),
        ("deepseek", b"data: "),
        ("moonshot-anthropic", b"event: error\n"),
        ("openai-responses", b"event: error\n"),
    ],
)
def test_wire_module_by_provider(provider: str, event_line: bytes) -> None:
    wire = for_provider(provider)
    assert wire.stream_error_event(provider).startswith(event_line)
    with pytest.raises(ValueError, match="unknown provider"):
        for_provider("openai-chat")


def test_public_api_is_exported() -> None:
    import pytest_kylecode.emulator as emulator

    assert set(emulator.__all__) >= {
        "EmulatorTransport",
        "Turn",
        "parse_script",
        "turn_index",
        "pick_turn",
        "respond",
        "for_protocol",
        "for_provider",
        "WireResponse",
        "Timing",
    }
    assert all(hasattr(emulator, name) for name in emulator.__all__)
