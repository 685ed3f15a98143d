from __future__ import annotations

import itertools
import json
import re

import pytest

from agent_runtime.dialect import format_tool_call
from pytest_kylecode.emulator import Turn, parse_script
from pytest_kylecode.wire import openai_chat

from ..emulated import chunk_events, play, request_body

P = "openai_chat"


def chunks(script: list[Turn], **kw: object) -> list[dict]:
    wire = play(script, P, request_body(P, stream=True, **kw))  # type: ignore[arg-type]
    assert wire.status == 200
    assert wire.header("content-type") == "text/event-stream; charset=utf-8"
    assert re.fullmatch(r"req_[0-9a-f]{32}", wire.header("x-request-id") or "")
    events = chunk_events(wire)
    assert all(event is None for event, _ in events), "Chat Completions sends no event: lines"
    assert events[-1] == (None, "[DONE]")
    return [json.loads(data) for _, data in events[:-1]]


def test_single_tool_call_stream_matches_openai_shape() -> None:
    script = parse_script([{"tool_calls": [{"name": "get_capital", "arguments": {"country": "UK"}}]}])
    out = chunks(script)
    ids = {c["id"] for c in out}
    assert len(ids) == 1 and re.fullmatch(r"chatcmpl-[0-9A-Za-z]{29}", ids.pop())
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "test-model" for c in out)
    first = out[0]["choices"][0]["delta"]
    # a lone call: the role comes in the header chunk, with id/type/name and empty arguments
    assert first["role"] == "assistant" and first["content"] is None
    (header,) = first["tool_calls"]
    assert re.fullmatch(r"call_[0-9A-Za-z]{24}", header["id"])
    assert header == {
        "index": 0,
        "id": header["id"],
        "type": "function",
        "function": {"name": "get_capital", "arguments": ""},
    }
    frags = [c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"] for c in out[1:-2]]
    assert frags == ['{"', "country", '":"', "UK", '"}']  # split as OpenAI's tokenizer does
    for c in out[1:-2]:
        assert set(c["choices"][0]["delta"]["tool_calls"][0]) == {"index", "function"}  # id/name only once
    assert out[-2]["choices"] == [{"index": 0, "delta": {}, "logprobs": None, "finish_reason": "tool_calls"}]
    usage_chunk = out[-1]
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert all(c["usage"] is None for c in out[:-1])


def test_parallel_calls_role_first_then_one_call_after_the_other(two_calls_script: list[Turn]) -> None:
    out = chunks(two_calls_script)
    deltas = [c["choices"][0]["delta"] for c in out[:-2]]
    assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    text = "".join(d.get("content") or "" for d in deltas)
    assert text == "Looking around."
    seen: list[tuple[int, str]] = []
    args: dict[int, str] = {}
    for d in deltas:
        for tc in d.get("tool_calls", []):
            if "id" in tc:
                seen.append((tc["index"], tc["function"]["name"]))
                assert tc["function"]["arguments"] == ""
            else:
                args[tc["index"]] = args.get(tc["index"], "") + tc["function"]["arguments"]
                assert seen[-1][0] == tc["index"], "fragments of a call follow its header, not interleaved"
    assert seen == [(0, "list_dir"), (1, "read_file")]
    assert json.loads(args[0]) == {"path": "."} and json.loads(args[1]) == {"path": "src/fs.c", "limit": 20}
    assert len([d for d in deltas if "tool_calls" in d]) > 4  # arguments really come in several pieces


def test_text_with_reasoning_and_finish() -> None:
    script = parse_script([{"text": "The capital of the UK is London.", "reasoning": "Easy.", "finish": "length"}])
    out = chunks(script)
    deltas = [c["choices"][0]["delta"] for c in out[:-2]]
    assert deltas[0] == {"role": "assistant", "content": "", "refusal": None}
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Easy."
    assert [d["content"] for d in deltas[1:] if d.get("content")] == [
        "The",
        " capital",
        " of",
        " the",
        " UK",
        " is",
        " London",
        ".",
    ]
    assert out[-2]["choices"][0]["finish_reason"] == "length"


def test_without_include_usage_there_is_no_usage_chunk() -> None:
    script = parse_script([{"text": "hi"}])
    out = chunks(script, include_usage=False)
    assert all("usage" not in c for c in out)
    assert out[-1]["choices"][0]["finish_reason"] == "stop"


def test_non_streaming_completion(two_calls_script: list[Turn]) -> None:
    wire = play(two_calls_script, P, request_body(P, stream=False))
    assert wire.header("content-type") == "application/json" and len(wire.chunks) == 1
    data = json.loads(wire.body)
    assert data["object"] == "chat.completion" and data["id"].startswith("chatcmpl-")
    (choice,) = data["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["role"] == "assistant" and message["content"] == "Looking around."
    calls = message["tool_calls"]
    assert [(c["type"], c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("function", "list_dir", {"path": "."}),
        ("function", "read_file", {"path": "src/fs.c", "limit": 20}),
    ]
    assert isinstance(message["tool_calls"][0]["function"]["arguments"], str)
    assert set(data["usage"]) >= {"prompt_tokens", "completion_tokens", "total_tokens"}


def test_stream_and_json_agree_on_ids_and_usage(two_calls_script: list[Turn]) -> None:
    streamed = chunks(two_calls_script)
    data = json.loads(play(two_calls_script, P, request_body(P, stream=False)).body)
    assert streamed[0]["id"] == data["id"]
    deltas = [c["choices"][0]["delta"] for c in streamed[:-2]]
    stream_ids = [tc["id"] for d in deltas for tc in d.get("tool_calls", []) if "id" in tc]
    assert stream_ids == [tc["id"] for tc in data["choices"][0]["message"]["tool_calls"]]
    assert streamed[-1]["usage"]["completion_tokens"] == data["usage"]["completion_tokens"]


def test_text_dialect_writes_calls_into_the_text(two_calls_script: list[Turn]) -> None:
    data = json.loads(play(two_calls_script, P, request_body(P, stream=False, tools=False)).body)
    message = data["choices"][0]["message"]
    assert "tool_calls" not in message and data["choices"][0]["finish_reason"] == "stop"
    assert message["content"] == "\n\n".join(
        [
            "Looking around.",
            format_tool_call("list_dir", {"path": "."}),
            format_tool_call("read_file", {"path": "src/fs.c", "limit": 20}),
        ]
    )


def test_malformed_raw_arguments_are_sent_verbatim() -> None:
    script = parse_script([{"tool_calls": [{"name": "write_file", "raw_arguments": '{"path":"a.txt"'}]}])
    out = chunks(script)
    frags = "".join(
        tc["function"]["arguments"] for c in out[:-2] for tc in c["choices"][0]["delta"].get("tool_calls", [])
    )
    assert frags == '{"path":"a.txt"'


def test_scripted_usage_wins() -> None:
    script = parse_script([{"text": "x", "usage": {"input_tokens": 111, "output_tokens": 22}}])
    assert chunks(script)[-1]["usage"]["prompt_tokens"] == 111
    assert chunks(script)[-1]["usage"]["completion_tokens"] == 22


def test_same_request_same_bytes_next_turn_new_ids(two_calls_script: list[Turn]) -> None:
    body = request_body(P, stream=True)
    first, again = play(two_calls_script, P, body), play(two_calls_script, P, body)
    assert first.chunks == again.chunks and first.headers == again.headers
    offsets = [o for o, _ in first.chunks]
    assert offsets[0] == 0.25 and all(b - a == pytest.approx(0.02) for a, b in itertools.pairwise(offsets))
    later = play(two_calls_script, P, request_body(P, stream=True, assistant_turns=3))  # past the end: last turn
    assert json.loads(chunk_events(later)[0][1])["id"] != json.loads(chunk_events(first)[0][1])["id"]


# -- errors for the fault transport ------------------------------------------------------------------


def test_http_429_has_retry_after_and_openai_body() -> None:
    wire = openai_chat.error_response("http_429", model="gpt-4o-mini")
    assert wire.status == 429 and wire.header("retry-after") == "1"
    error = json.loads(wire.body)["error"]
    assert error["code"] == "rate_limit_exceeded" and "gpt-4o-mini" in error["message"]


def test_http_404_is_openais_pretty_printed_body() -> None:
    wire = openai_chat.error_response("http_404", model="non-existent-model")
    assert wire.header("content-type") == "application/json; charset=utf-8"
    assert wire.body == (
        b'{\n    "error": {\n        "message": "The model `non-existent-model` does not exist '
        b'or you do not have access to it.",\n        "type": "invalid_request_error",\n'
        b'        "param": null,\n        "code": "model_not_found"\n    }\n}\n'
    )


@pytest.mark.parametrize("provider", ["openai", "openrouter", "groq"])
def test_tools_unsupported_is_openrouters_404(provider: str) -> None:
    wire = openai_chat.error_response("tools_unsupported", provider=provider)
    assert wire.status == 404
    assert json.loads(wire.body)["error"]["message"].startswith("No endpoints found that support tool use.")


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("http_400", 400),
        ("http_401", 401),
        ("http_429", 429),
        ("http_502", 502),
        ("http_503", 503),
        ("context_length", 400),
    ],
)
def test_openrouter_errors_carry_numeric_code(kind: str, status: int) -> None:
    wire = openai_chat.error_response(kind, provider="openrouter")
    assert wire.status == status and json.loads(wire.body)["error"]["code"] == status


def test_html_and_broken_bodies() -> None:
    page = openai_chat.error_response("html_200")
    assert page.status == 200 and page.header("content-type") == "text/html"
    assert page.body.startswith(b"<!DOCTYPE html>")
    assert openai_chat.error_response("http_502").header("content-type") == "text/html"
    with pytest.raises(ValueError):
        json.loads(openai_chat.error_response("invalid_json").body)
    assert openai_chat.error_response("empty_response").body == b""
    with pytest.raises(ValueError, match="not an HTTP fault"):
        openai_chat.error_response("stall")


def test_stream_error_events_per_provider() -> None:
    openai_err = openai_chat.stream_error_event("openai")
    assert openai_err.startswith(b"data: {") and b"[DONE]" not in openai_err
    assert json.loads(openai_err[6:])["error"]["type"] == "server_error"
    groq = openai_chat.stream_error_event("groq")
    assert groq.startswith(b"event: error\ndata: ")
    router = openai_chat.stream_error_event("openrouter", model="z-ai/glm-4.6")
    first, done = router.split(b"\n\n")[:2]
    chunk = json.loads(first[6:])
    assert chunk["error"]["message"] and chunk["choices"][0]["finish_reason"] == "error" and done == b"data: [DONE]"


def test_finish_event_and_malformed_event(two_calls_script: list[Turn]) -> None:
    wire = play(two_calls_script, P, request_body(P, stream=True))
    finishing = [i for i, (_, c) in enumerate(wire.chunks) if openai_chat.is_finish_event(c)]
    assert finishing == [len(wire.chunks) - 3]  # then the usage chunk and [DONE]
    with pytest.raises(ValueError):
        json.loads(openai_chat.malformed_event()[6:])
