"""Tool-call and content faults: the response is decoded, changed, and written again.

``malformed_tool_args``, ``duplicate_tool_args``, ``missing_tool_call_id`` and
``content_filter`` change what a response *says*, which differs by protocol
down to the field. Instead of patching arbitrary provider bytes, the genuine
response is decoded with the runtime's own protocol decoder, turned into an
emulator ``Plan`` (same model, turn, text, calls and usage), changed, and
rendered by the emulator's wire module for that protocol; the wire-level quirk
(Kimi's start input + repeated deltas, an empty id) is then applied to that
known rendering. The first byte arrives when the genuine one did.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from agent_runtime.dialect import CALL_CLOSE
from agent_runtime.messages import JSONObject, ModelResponse
from agent_runtime.providers import ProtocolName
from agent_runtime.wire.protocols import get_protocol
from agent_runtime.wire.sse import iter_events as sse_events
from pytest_kylecode.faults.catalog import CATALOG
from pytest_kylecode.wire import Plan, Timing, WireResponse, for_protocol
from pytest_kylecode.wire.common import PlannedCall, dumps, pieces
from pytest_kylecode.wire.requests import turn_index

SEMANTIC_KINDS: Final = frozenset(kind for kind, family in CATALOG.items() if family == "content")


def decode(protocol: ProtocolName, body: bytes, *, streaming: bool) -> ModelResponse:
    wire = get_protocol(protocol)
    if not streaming:
        return wire.parse_response(json.loads(body))
    decoder = wire.stream_decoder()
    for event in sse_events([body]):
        decoder.feed(event)
    return decoder.finish()


def plan_of(response: ModelResponse, request: JSONObject, protocol: str) -> Plan:
    calls = tuple(
        PlannedCall(c.name, c.raw_arguments or dumps(c.arguments), pieces(c.raw_arguments or dumps(c.arguments)))
        for c in response.tool_calls
    )
    return Plan(
        index=turn_index(protocol, request),
        model=str(request.get("model") or response.model or "model"),
        stream=request.get("stream") is True,
        text=response.text,
        text_pieces=pieces(response.text),
        reasoning=response.reasoning,
        reasoning_pieces=pieces(response.reasoning),
        calls=calls,
        finish=response.finish_reason if response.finish_reason in ("stop", "tool_calls", "length") else "stop",
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
    )


def _break_json(text: str) -> str:
    """Arguments that concatenate to invalid JSON: the closing brace never comes."""
    stripped = text.rstrip()
    return stripped[:-1] if stripped.endswith("}") else stripped + '"'


def _malformed(plan: Plan) -> Plan:
    if plan.calls:
        first = plan.calls[0]
        broken = _break_json(first.arguments)
        calls = (PlannedCall(first.name, broken, pieces(broken)), *plan.calls[1:])
        return replace(plan, calls=calls)
    end = plan.text.find("\n" + CALL_CLOSE)  # text dialect: break the first call block's JSON
    if end < 0:
        return plan
    text = _break_json(plan.text[:end]) + plan.text[end:]
    return replace(plan, text=text, text_pieces=pieces(text))


def _cut_strings(value: object) -> object:
    """``value`` with every string in it cut to its first half (an argument that broke off)."""
    if isinstance(value, str):
        return value[: len(value) // 2]
    if isinstance(value, dict):
        return {key: _cut_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_strings(item) for item in value]
    return value


def _malformed_object(plan: Plan) -> Plan:
    """``malformed_tool_args`` where the wire holds arguments as an object, never as text (a
    non-streamed Anthropic ``tool_use.input``): the object arrives, its string values cut."""
    first = plan.calls[0]
    try:
        arguments = json.loads(first.arguments)
    except ValueError:
        return plan
    cut = dumps(_cut_strings(arguments))
    if cut == dumps(arguments):
        return plan
    return replace(plan, calls=(PlannedCall(first.name, cut, pieces(cut)), *plan.calls[1:]))


# Where a protocol's wire shape holds tool arguments as an object, a fault that breaks their JSON
# text has no real counterpart; this is the shape the fault takes there.
OBJECT_ARGUMENTS: Final = frozenset({("anthropic_messages", False)})


def _content_filter(plan: Plan) -> Plan:
    text = plan.text[: len(plan.text) // 2]  # the filter stops the answer part-way
    return replace(plan, text=text, text_pieces=pieces(text), calls=(), finish="content_filter")


PLAN_CHANGES: dict[str, Callable[[Plan], Plan]] = {
    "malformed_tool_args": _malformed,
    "content_filter": _content_filter,
    "duplicate_tool_args": lambda plan: plan,
    "missing_tool_call_id": lambda plan: plan,
}


def rewrite(
    kind: str, protocol: ProtocolName, request: JSONObject, body: bytes, *, streaming: bool, first_offset: float
) -> WireResponse | None:
    """The faulted response, or None when the genuine one gives the fault nothing to act on."""
    response = decode(protocol, body, streaming=streaming)
    if response.error is not None:
        return None
    plan = plan_of(response, request, protocol)
    if (
        kind in ("duplicate_tool_args", "missing_tool_call_id", "malformed_tool_args")
        and not plan.calls
        and (kind != "malformed_tool_args" or CALL_CLOSE not in plan.text)
    ):
        return None
    change = PLAN_CHANGES[kind]
    if kind == "malformed_tool_args" and plan.calls and (protocol, streaming) in OBJECT_ARGUMENTS:
        change = _malformed_object
    changed = change(plan)
    if changed == plan and kind == "malformed_tool_args":
        return None  # nothing to break (no string argument): the genuine answer
    wire = for_protocol(protocol)
    rendered = wire.render(changed, request, Timing(first_byte_s=first_offset))
    quirk = QUIRKS.get((kind, protocol, streaming))
    if quirk is not None:
        rendered.chunks = quirk(rendered.chunks)
    return rendered


# -- wire quirks, applied to the emulator's own rendering -------------------------------------------


def _edit_event(event: bytes, edit: Callable[[JSONObject], None]) -> bytes:
    """Apply ``edit`` to the JSON of one SSE event (or of a whole JSON body)."""
    if not event.startswith((b"data: ", b"event: ")):
        payload = json.loads(event)
        edit(payload)
        return dumps(payload).encode()
    lines = event.decode().split("\n")
    for i, line in enumerate(lines):
        if line.startswith("data: {"):
            payload = json.loads(line[6:])
            edit(payload)
            lines[i] = "data: " + dumps(payload)
    return "\n".join(lines).encode()


Chunks = list[tuple[float, bytes]]


def _payloads(chunks: Chunks) -> list[JSONObject]:
    out = []
    for _, event in chunks:
        line = next((ln for ln in event.decode().split("\n") if ln.startswith("data: {")), None)
        out.append(json.loads(line[6:]) if line else {})
    return out


def _chat_stream_duplicate(chunks: Chunks) -> Chunks:
    """The header chunk already carries the full arguments; the fragments then re-send them."""
    payloads = _payloads(chunks)
    full: dict[int, str] = {}
    for payload in payloads:
        for choice in payload.get("choices", []):
            for call in (choice.get("delta") or {}).get("tool_calls") or []:
                full[call["index"]] = full.get(call["index"], "") + call.get("function", {}).get("arguments", "")

    def edit(payload: JSONObject) -> None:
        for choice in payload.get("choices", []):
            for call in (choice.get("delta") or {}).get("tool_calls") or []:
                if call.get("id"):
                    call["function"]["arguments"] = full[call["index"]]

    return [(t, _edit_event(event, edit)) for t, event in chunks]


def _anthropic_stream_duplicate(chunks: Chunks) -> Chunks:
    """Kimi: ``content_block_start`` already holds the whole ``input``; the deltas repeat it."""
    full: dict[int, str] = {}
    for payload in _payloads(chunks):
        delta = payload.get("delta") or {}
        if payload.get("type") == "content_block_delta" and delta.get("type") == "input_json_delta":
            full[payload["index"]] = full.get(payload["index"], "") + delta.get("partial_json", "")

    def edit(payload: JSONObject) -> None:
        block = payload.get("content_block") or {}
        if payload.get("type") == "content_block_start" and block.get("type") == "tool_use":
            block["input"] = json.loads(full.get(payload["index"]) or "{}")

    return [(t, _edit_event(event, edit)) for t, event in chunks]


def _responses_stream_duplicate(chunks: Chunks) -> Chunks:
    """Every argument delta is sent twice; the ``done`` events still carry the arguments once."""
    doubled: Chunks = []
    for t, event in chunks:
        doubled.append((t, event))
        if event.startswith(b"event: response.function_call_arguments.delta\n"):
            doubled.append((t, event))
    sequence = 0

    def renumber(payload: JSONObject) -> None:
        nonlocal sequence
        if "sequence_number" in payload:
            payload["sequence_number"] = sequence
            sequence += 1

    return [(t, _edit_event(event, renumber)) for t, event in doubled]


def _missing_id_chat(payload: JSONObject) -> None:
    for choice in payload.get("choices", []):
        holder = choice.get("delta") or choice.get("message") or {}
        for call in holder.get("tool_calls", []) or []:
            if "id" in call:
                call["id"] = ""


def _missing_id_anthropic(payload: JSONObject) -> None:
    blocks = payload.get("content") or []
    if payload.get("type") == "content_block_start":
        blocks = [payload["content_block"]]
    for block in blocks:
        if block.get("type") == "tool_use":
            block["id"] = ""


def _missing_id_responses(payload: JSONObject) -> None:
    items = list(payload.get("output") or []) + list((payload.get("response") or {}).get("output") or [])
    if isinstance(payload.get("item"), dict):
        items.append(payload["item"])
    for item in items:
        if item.get("type") == "function_call":
            item["call_id"] = ""


def _duplicate_nonstream(payload: JSONObject) -> None:
    # Non-streamed analogue: the arguments string arrives twice over ({...}{...}).
    for choice in payload.get("choices", []):
        for call in choice.get("message", {}).get("tool_calls", []) or []:
            call["function"]["arguments"] *= 2
    for item in payload.get("output", []) or []:
        if item.get("type") == "function_call":
            item["arguments"] *= 2
    content = payload.get("content")
    if isinstance(content, list):  # Anthropic: the same tool_use block twice, same id
        payload["content"] = [
            b for block in content for b in ([block, block] if block.get("type") == "tool_use" else [block])
        ]


def _per_event(edit: Callable[[JSONObject], None]) -> Callable[[Chunks], Chunks]:
    return lambda chunks: [(t, _edit_event(event, edit)) for t, event in chunks]


QUIRKS: dict[tuple[str, str, bool], Callable[[Chunks], Chunks]] = {
    ("duplicate_tool_args", "openai_chat", True): _chat_stream_duplicate,
    ("duplicate_tool_args", "anthropic_messages", True): _anthropic_stream_duplicate,
    ("duplicate_tool_args", "openai_responses", True): _responses_stream_duplicate,
    **{("missing_tool_call_id", "openai_chat", s): _per_event(_missing_id_chat) for s in (True, False)},
    **{("missing_tool_call_id", "anthropic_messages", s): _per_event(_missing_id_anthropic) for s in (True, False)},
    **{("missing_tool_call_id", "openai_responses", s): _per_event(_missing_id_responses) for s in (True, False)},
    **{
        ("duplicate_tool_args", p, False): _per_event(_duplicate_nonstream)
        for p in ("openai_chat", "anthropic_messages", "openai_responses")
    },
}
