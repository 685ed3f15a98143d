"""What a cell hands the report besides its outcome: headline metrics and a transcript excerpt.

Both travel in the cell's ``user_properties`` (to the xdist controller too), once per cell, so
they are small: the metrics a comparison with a baseline reads, and the start and the end of the
conversation, each entry cut to a few lines.
"""

from __future__ import annotations

from typing import Final

from agent_runtime.messages import AssistantMessage, JSONObject, Message, SystemMessage, UserMessage

# The per-cell metrics a report compares, in the order it shows them.
METRICS: Final = ("calls", "errors", "retries", "fallbacks", "latency_ms", "input_tokens", "output_tokens")
_HEAD: Final = 1  # the task
_TAIL: Final = 8  # what the run did last: where a failure shows
_CHARS: Final = 400


def headline_metrics(snapshot: JSONObject) -> JSONObject:
    """``METRICS`` of a metrics snapshot; ``latency_ms`` is the slowest call of any route (None: no call)."""
    summary = snapshot.get("summary", {})
    result: JSONObject = {name: summary.get(name) for name in METRICS if name != "latency_ms"}
    latencies = [
        route["latency_ms"]["max"]
        for route in snapshot.get("routes", {}).values()
        if route.get("latency_ms", {}).get("max") is not None
    ]
    result["latency_ms"] = max(latencies) if latencies else None
    return {name: result[name] for name in METRICS}


def transcript_excerpt(conversation: list[Message]) -> list[JSONObject]:
    """``{role, text}`` entries: the first ``_HEAD`` messages and the last ``_TAIL``, a gap marked.
    The system prompt is left out: it is the agent's, the same in every cell."""
    conversation = [m for m in conversation if not isinstance(m, SystemMessage)]
    picked = (
        conversation if len(conversation) <= _HEAD + _TAIL else [*conversation[:_HEAD], None, *conversation[-_TAIL:]]
    )
    entries: list[JSONObject] = []
    for message in picked:
        if message is None:
            skipped = len(conversation) - _HEAD - _TAIL
            entries.append({"role": "gap", "text": f"[{skipped} messages not shown]"})
        else:
            role, text = _entry(message)
            entries.append({"role": role, "text": text if len(text) <= _CHARS else text[:_CHARS] + " [...]"})
    return entries


def _entry(message: Message) -> tuple[str, str]:
    if isinstance(message, UserMessage):
        return message.kind, message.content
    if isinstance(message, AssistantMessage):
        calls = [f"-> {call.name}({call.raw_arguments or call.arguments})" for call in message.tool_calls]
        return "assistant", "\n".join([message.text, *calls] if message.text else calls)
    if isinstance(message, SystemMessage):
        return "system", message.content
    return ("tool error" if message.is_error else "tool"), f"{message.name}: {message.content}"
