from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent_runtime.dialect import format_tool_call
from pytest_kylecode.emulator import Turn, parse_script
from pytest_kylecode.wire import openai_responses

from ..emulated import chunk_events, play, request_body, sse_events

P = "openai_responses"


def events(script: list[Turn], body: dict[str, Any] | None = None) -> list[dict]:
    wire = play(script, P, body or request_body(P, stream=True))
    assert wire.status == 200 and wire.header("content-type") == "text/event-stream; charset=utf-8"
    out = []
    for name, data in chunk_events(wire):
        payload = json.loads(data)
        assert payload["type"] == name
        out.append(payload)
    assert [p["sequence_number"] for p in out] == list(range(len(out)))
    return out


def test_event_order_message_then_calls(two_calls_script: list[Turn]) -> None:
    out = events(two_calls_script)
    types = [p["type"] for p in out]
    text_deltas = types.count("response.output_text.delta")
    arg_deltas = [i for i, p in enumerate(out) if p["type"] == "response.function_call_arguments.delta"]
    assert text_deltas > 1 and len(arg_deltas) > 4
    compact = [
        t
        for i, t in enumerate(types)
        if t not in ("response.output_text.delta", "response.function_call_arguments.delta")
    ]
    assert compact == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [p["output_index"] for p in out if p["type"] == "response.output_item.added"] == [0, 1, 2]


def test_created_and_completed_carry_the_response(two_calls_script: list[Turn]) -> None:
    out = events(two_calls_script)
    created, completed = out[0]["response"], out[-1]["response"]
    assert re.fullmatch(r"resp_[0-9a-f]{50}", created["id"]) and created["id"] == completed["id"]
    assert created["status"] == "in_progress" and created["output"] == [] and created["usage"] is None
    assert completed["status"] == "completed"
    usage = completed["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    message, call0, call1 = completed["output"]
    assert message["type"] == "message" and message["content"][0]["text"] == "Looking around."
    assert (call0["name"], json.loads(call0["arguments"])) == ("list_dir", {"path": "."})
    assert (call1["name"], json.loads(call1["arguments"])) == ("read_file", {"path": "src/fs.c", "limit": 20})
    assert re.fullmatch(r"fc_[0-9a-f]{50}", call0["id"]) and re.fullmatch(r"call_[0-9A-Za-z]{24}", call0["call_id"])


def test_function_call_items_and_fragments(two_calls_script: list[Turn]) -> None:
    out = events(two_calls_script)
    added = [p["item"] for p in out if p["type"] == "response.output_item.added"]
    added = [i for i in added if i["type"] == "function_call"]
    assert all(i["arguments"] == "" and i["status"] == "in_progress" for i in added)
    for item in added:
        frags = "".join(
            p["delta"]
            for p in out
            if p["type"] == "response.function_call_arguments.delta" and p["item_id"] == item["id"]
        )
        (done,) = [
            p for p in out if p["type"] == "response.function_call_arguments.done" and p["item_id"] == item["id"]
        ]
        assert frags == done["arguments"] and json.loads(frags)
        # call_id and name only in item events
        assert all("call_id" not in p for p in out if p.get("item_id") == item["id"])


def test_text_deltas_reassemble() -> None:
    out = events(parse_script([{"text": "The capital of France is Paris."}]))
    deltas = [p["delta"] for p in out if p["type"] == "response.output_text.delta"]
    assert len(deltas) > 1 and "".join(deltas) == "The capital of France is Paris."
    assert next(p for p in out if p["type"] == "response.output_text.done")["text"] == "The capital of France is Paris."


def test_reasoning_item_first_and_encrypted_only_when_asked() -> None:
    script = parse_script([{"text": "Done.", "reasoning": "Think first."}])
    body = request_body(P, stream=True)
    out = events(script, body)
    first = next(p for p in out if p["type"] == "response.output_item.added")
    assert first["output_index"] == 0 and first["item"]["type"] == "reasoning"
    assert "encrypted_content" not in first["item"]
    summary = "".join(p["delta"] for p in out if p["type"] == "response.reasoning_summary_text.delta")
    assert summary == "Think first."
    body["include"] = ["reasoning.encrypted_content"]
    done = next(p for p in events(script, body) if p["type"] == "response.output_item.done")
    assert done["item"]["encrypted_content"].startswith("gAAAAAB")
    assert done["item"]["summary"] == [{"type": "summary_text", "text": "Think first."}]


@pytest.mark.parametrize(("finish", "reason"), [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_incomplete_finishes(finish: str, reason: str) -> None:
    out = events(parse_script([{"text": "cut", "finish": finish}]))
    assert out[-1]["type"] == "response.incomplete"
    assert out[-1]["response"]["status"] == "incomplete"
    assert out[-1]["response"]["incomplete_details"] == {"reason": reason}


def test_non_streaming_response(two_calls_script: list[Turn]) -> None:
    wire = play(two_calls_script, P, request_body(P, stream=False))
    data = json.loads(wire.body)
    assert data["object"] == "response" and data["status"] == "completed"
    assert [o["type"] for o in data["output"]] == ["message", "function_call", "function_call"]
    assert data == events(two_calls_script)[-1]["response"]  # the same object as response.completed


def test_text_dialect() -> None:
    script = parse_script([{"tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]}])
    data = json.loads(play(script, P, request_body(P, stream=False, tools=False)).body)
    (message,) = data["output"]
    assert message["content"][0]["text"] == format_tool_call("list_dir", {"path": "."})


def test_turn_from_replayed_items_and_determinism(two_calls_script: list[Turn]) -> None:
    body = request_body(P, stream=True, assistant_turns=1)
    out = events(two_calls_script, body)
    assert [
        i["name"]
        for i in (p["item"] for p in out if p["type"] == "response.output_item.done")
        if i["type"] == "function_call"
    ] == ["mark_task_complete"]
    assert play(two_calls_script, P, body).chunks == play(two_calls_script, P, body).chunks


# -- errors for the fault transport ------------------------------------------------------------------


def test_errors() -> None:
    tools = openai_responses.error_response("tools_unsupported")
    assert tools.status == 400 and json.loads(tools.body)["error"]["type"] == "invalid_request_error"
    context = json.loads(openai_responses.error_response("context_length").body)["error"]
    assert context["code"] == "context_length_exceeded" and context["param"] == "input"
    limited = openai_responses.error_response("http_429")
    assert limited.status == 429 and limited.header("retry-after") == "1"
    assert b"\n  " in limited.body  # 2-space indent on this endpoint
    assert openai_responses.error_response("html_502").header("content-type") == "text/html"


def test_stream_error_is_error_then_failed(two_calls_script: list[Turn]) -> None:
    raw = openai_responses.stream_error_event(model="gpt-4.1", response_id="resp_abc", sequence_number=5)
    (e1, d1), (e2, d2) = sse_events(raw)
    error, failed = json.loads(d1), json.loads(d2)
    assert (e1, error["type"], error["sequence_number"]) == ("error", "error", 5)
    assert error["error"]["code"] and error["error"]["message"]
    assert (e2, failed["sequence_number"], failed["response"]["status"]) == ("response.failed", 6, "failed")
    assert failed["response"]["id"] == "resp_abc"
    wire = play(two_calls_script, P, request_body(P, stream=True))
    assert [openai_responses.is_finish_event(c) for _, c in wire.chunks].count(True) == 1
    assert openai_responses.is_finish_event(wire.chunks[-1][1])
