"""OpenAI Responses on the wire, written by the emulator.

Same skeleton as ``openai_chat``: ``FINISH``, ``validate``, ``render``, ``error_response``,
``stream_error_event``, ``is_finish_event``, ``malformed_event``.

Streams follow OpenAI's traffic, every event numbered by ``sequence_number``: ``response.created``
-> ``response.in_progress`` -> output items one after the other (reasoning summary, assistant
message, function calls), each ``output_item.added`` ... ``output_item.done`` -> the terminal
``response.completed`` (or ``response.incomplete`` for ``length`` / ``content_filter``), which alone
carries usage. There is no ``[DONE]``.
"""

from __future__ import annotations

import json
from typing import Final

from agent_runtime.messages import JSONObject
from pytest_kylecode.wire import openai_chat
from pytest_kylecode.wire.common import (
    CREATED,
    DEFAULT_TIMING,
    Plan,
    Timing,
    WireResponse,
    dumps,
    sse,
    stable_hex,
    stable_token,
)

PROTOCOL: Final = "openai_responses"
# canonical finish -> (status, incomplete reason). Responses has no finish_reason field.
FINISH: Final = {
    "stop": ("completed", None),
    "tool_calls": ("completed", None),
    "length": ("incomplete", "max_output_tokens"),
    "content_filter": ("incomplete", "content_filter"),
}


def validate(body: JSONObject) -> str | None:
    inp = body.get("input")
    if not (isinstance(inp, str) or (isinstance(inp, list) and inp)):
        return "'input' must be a string or a non-empty array of input items"
    return None


def render(plan: Plan, body: JSONObject, timing: Timing = DEFAULT_TIMING) -> WireResponse:
    ids = _Ids(plan)
    headers = [("x-request-id", ids.request), ("openai-version", "2020-10-01"), ("openai-processing-ms", "250")]
    if plan.stream:
        events = _stream_events(plan, body, ids)
        return WireResponse(200, [("content-type", "text/event-stream; charset=utf-8"), *headers], timing.stamp(events))
    payload = dumps(_response(plan, body, ids, _output(plan, body, ids), final=True)).encode()
    n_events = 3 + len(plan.reasoning_pieces) + len(plan.text_pieces) + sum(2 + len(c.pieces) for c in plan.calls)
    return WireResponse(200, [("content-type", "application/json"), *headers], timing.single(payload, n_events))


class _Ids:
    __slots__ = ("calls", "encrypted", "items", "message", "reasoning", "request", "response")

    def __init__(self, plan: Plan) -> None:
        self.response = "resp_" + stable_hex(plan.seed("resp"), 50)
        self.request = "req_" + stable_hex(plan.seed("request"), 32)
        self.reasoning = "rs_" + stable_hex(plan.seed("rs"), 50)
        self.message = "msg_" + stable_hex(plan.seed("msg"), 50)
        self.items = ["fc_" + stable_hex(plan.seed("fc", i), 50) for i in range(len(plan.calls))]
        self.calls = ["call_" + stable_token(plan.seed("call", i), 24) for i in range(len(plan.calls))]
        self.encrypted = "gAAAAAB" + stable_token(plan.seed("encrypted"), 120)


def _reasoning_item(plan: Plan, body: JSONObject, ids: _Ids, done: bool) -> JSONObject:
    item: JSONObject = {"id": ids.reasoning, "type": "reasoning"}
    include = body.get("include")
    if isinstance(include, list) and "reasoning.encrypted_content" in include:
        item["encrypted_content"] = ids.encrypted  # only when asked for, as the API does
    item["summary"] = [{"type": "summary_text", "text": plan.reasoning}] if done else []
    return item


def _text_part(text: str) -> JSONObject:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message_item(plan: Plan, ids: _Ids, done: bool) -> JSONObject:
    return {
        "id": ids.message,
        "type": "message",
        "status": "completed" if done else "in_progress",
        "content": [_text_part(plan.text)] if done else [],
        "role": "assistant",
    }


def _call_item(plan: Plan, ids: _Ids, i: int, done: bool) -> JSONObject:
    return {
        "id": ids.items[i],
        "type": "function_call",
        "status": "completed" if done else "in_progress",
        "arguments": plan.calls[i].arguments if done else "",
        "call_id": ids.calls[i],
        "name": plan.calls[i].name,
    }


def _output(plan: Plan, body: JSONObject, ids: _Ids) -> list[JSONObject]:
    output = []
    if plan.reasoning:
        output.append(_reasoning_item(plan, body, ids, True))
    if plan.text:
        output.append(_message_item(plan, ids, True))
    output += [_call_item(plan, ids, i, True) for i in range(len(plan.calls))]
    return output


def _response(plan: Plan, body: JSONObject, ids: _Ids, output: list[JSONObject], *, final: bool) -> JSONObject:
    """The response object; before the end it is ``in_progress`` with no output and no usage."""
    status, reason = FINISH[plan.finish] if final else ("in_progress", None)
    usage = (
        {
            "input_tokens": plan.input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": plan.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": plan.input_tokens + plan.output_tokens,
        }
        if final
        else None
    )
    tools = body.get("tools")
    return {
        "id": ids.response,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": {"reason": reason} if reason else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": plan.model,
        "output": output if final else [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": tools if isinstance(tools, list) else [],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def _stream_events(plan: Plan, body: JSONObject, ids: _Ids) -> list[bytes]:
    events: list[bytes] = []

    def event(kind: str, **fields: object) -> None:
        # type, then sequence_number, then the event's own fields: the order OpenAI sends
        events.append(sse(dumps({"type": kind, "sequence_number": len(events), **fields}), kind))

    event("response.created", response=_response(plan, body, ids, [], final=False))
    event("response.in_progress", response=_response(plan, body, ids, [], final=False))
    index = 0
    if plan.reasoning:
        rid = ids.reasoning
        event("response.output_item.added", output_index=index, item=_reasoning_item(plan, body, ids, False))
        event(
            "response.reasoning_summary_part.added",
            item_id=rid,
            output_index=index,
            summary_index=0,
            part={"type": "summary_text", "text": ""},
        )
        for piece in plan.reasoning_pieces:
            event(
                "response.reasoning_summary_text.delta", item_id=rid, output_index=index, summary_index=0, delta=piece
            )
        event(
            "response.reasoning_summary_text.done",
            item_id=rid,
            output_index=index,
            summary_index=0,
            text=plan.reasoning,
        )
        event(
            "response.reasoning_summary_part.done",
            item_id=rid,
            output_index=index,
            summary_index=0,
            part={"type": "summary_text", "text": plan.reasoning},
        )
        event("response.output_item.done", output_index=index, item=_reasoning_item(plan, body, ids, True))
        index += 1
    if plan.text:
        mid = ids.message
        event("response.output_item.added", output_index=index, item=_message_item(plan, ids, False))
        event("response.content_part.added", item_id=mid, output_index=index, content_index=0, part=_text_part(""))
        for piece in plan.text_pieces:
            event(
                "response.output_text.delta", item_id=mid, output_index=index, content_index=0, delta=piece, logprobs=[]
            )
        event(
            "response.output_text.done", item_id=mid, output_index=index, content_index=0, text=plan.text, logprobs=[]
        )
        event(
            "response.content_part.done", item_id=mid, output_index=index, content_index=0, part=_text_part(plan.text)
        )
        event("response.output_item.done", output_index=index, item=_message_item(plan, ids, True))
        index += 1
    for i, call in enumerate(plan.calls):
        fid = ids.items[i]
        event("response.output_item.added", output_index=index, item=_call_item(plan, ids, i, False))
        for piece in call.pieces:
            event("response.function_call_arguments.delta", item_id=fid, output_index=index, delta=piece)
        event("response.function_call_arguments.done", item_id=fid, output_index=index, arguments=call.arguments)
        event("response.output_item.done", output_index=index, item=_call_item(plan, ids, i, True))
        index += 1
    terminal = "response.completed" if FINISH[plan.finish][0] == "completed" else "response.incomplete"
    event(terminal, response=_response(plan, body, ids, _output(plan, body, ids), final=True))
    return events


# -- errors ----------------------------------------------------------------------------------------

CONTEXT_MESSAGE: Final = "Your input exceeds the context window of this model. Please adjust your input and try again."
# Where Responses differs from Chat Completions: a route rejecting tools answers 400, and the
# context-length error names `input`.
_ERRORS: Final = {
    **openai_chat.OPENAI_ERRORS,
    "http_400": (
        400,
        "invalid_request_error",
        "decimal_below_min_value",
        "temperature",
        "Invalid 'temperature': decimal below minimum value. Expected a value >= 0, but got -1 instead.",
    ),
    "tools_unsupported": (
        400,
        "invalid_request_error",
        "unsupported_parameter",
        "tools",
        "Unsupported parameter: 'tools' is not supported with this model.",
    ),
    "context_length": (400, "invalid_request_error", "context_length_exceeded", "input", CONTEXT_MESSAGE),
}


def error_response(
    kind: str,
    *,
    provider: str = "openai-responses",
    model: str = "",
    seed: str = "",
    message: str | None = None,
    timing: Timing = DEFAULT_TIMING,
) -> WireResponse:
    """The HTTP answer for an HTTP fault ``kind`` (one of ``HTTP_ANSWER_KINDS``): OpenAI's error bodies,
    which on this endpoint come with a 2-space indent and no trailing newline. ``message`` replaces
    the default message (and drops ``code``/``param``)."""
    if kind not in _ERRORS:
        # HTML pages, cut and empty bodies: nothing protocol-specific in them
        return openai_chat.error_response(kind, provider="openai", model=model, seed=seed, timing=timing)
    status, etype, code, param, default = _ERRORS[kind]
    if message is not None:
        code = param = None
    request_id = "req_" + stable_hex(f"{provider}\x1f{model}\x1f{kind}\x1f{seed}", 32)
    text = default.replace("{model}", model or "gpt-4.1") if message is None else message
    err = {"error": {"message": text, "type": etype, "param": param, "code": code}}
    headers = [("content-type", "application/json"), ("x-request-id", request_id), ("openai-version", "2020-10-01")]
    if status == 429:
        headers.append(("retry-after", "1"))
    return WireResponse(status, headers, timing.single(json.dumps(err, indent=2).encode(), 1))


def stream_error_event(
    provider: str = "openai-responses", *, model: str = "", response_id: str = "", sequence_number: int = 0
) -> bytes:
    """An ``error`` event then ``response.failed`` (the real nested shape); the stream ends after them.

    ``sequence_number`` is the number of events already sent (the error takes that number);
    ``response_id`` should be the id of the interrupted response.
    """
    message = "The server had an error while processing your request. Sorry about that!"
    error = sse(
        dumps(
            {
                "type": "error",
                "sequence_number": sequence_number,
                "error": {"type": "server_error", "code": "server_error", "message": message, "param": None},
            }
        ),
        "error",
    )
    failed = {
        "id": response_id or "resp_" + stable_hex(model, 50),
        "object": "response",
        "created_at": CREATED,
        "status": "failed",
        "background": False,
        "error": {"code": "server_error", "message": message},
        "incomplete_details": None,
        "model": model or "emulated-model",
        "output": [],
        "usage": None,
    }
    return error + sse(
        dumps({"type": "response.failed", "sequence_number": sequence_number + 1, "response": failed}),
        "response.failed",
    )


def is_finish_event(event: bytes) -> bool:
    """Whether ``event`` is the terminal one (completed / incomplete / failed)."""
    return event.startswith(
        (b"event: response.completed\n", b"event: response.incomplete\n", b"event: response.failed\n")
    )


def malformed_event() -> bytes:
    return b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"msg_x\n\n'
