"""Tool calls and results written as text: the blocks of the text dialect.

A call is one block, on lines of its own, holding one JSON object; a result is one block per
result, sent back in a user message (see the package docstring). The provider emulator writes
calls with ``format_tool_call``, so the runtime's parser and the emulator agree on the format by
construction. Everything here is pure and deterministic (sorted JSON keys).
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass

from agent_runtime.messages import JSONObject, ToolCall, ToolResult, canonical_json

__all__ = [
    "CALL_CLOSE",
    "CALL_OPEN",
    "UNNAMED_CALL",
    "ParsedCall",
    "format_call_block",
    "format_tool_call",
    "format_tool_result",
    "parse_tool_calls",
]

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
UNNAMED_CALL = "unnamed_tool_call"


def format_tool_call(name: str, arguments: JSONObject | str) -> str:
    """One call block. ``arguments`` given as a string is inserted verbatim (to write malformed calls)."""
    args = arguments if isinstance(arguments, str) else canonical_json(arguments)
    return f'{CALL_OPEN}\n{{"name": {json.dumps(name)}, "arguments": {args}}}\n{CALL_CLOSE}'


def format_call_block(call: ToolCall) -> str:
    """A canonical call as a call block, for a conversation sent back in the text dialect."""
    # A malformed call is written back as the model wrote it (its raw arguments), so the model
    # sees its own mistake next to the error result; for emulator-shaped blocks this is exact.
    if call.parse_error is not None:
        if call.name == UNNAMED_CALL:  # raw_arguments holds the whole block body
            return f"{CALL_OPEN}\n{call.raw_arguments}\n{CALL_CLOSE}"
        return format_tool_call(call.name, call.raw_arguments or "null")
    return format_tool_call(call.name, call.arguments)


def format_tool_result(result: ToolResult) -> str:
    """One result block; attribute values are JSON strings so any id or name stays one token."""
    error = ' error="true"' if result.is_error else ""
    head = f"<tool_result id={json.dumps(result.call_id)} name={json.dumps(result.name)}{error}>"
    return f"{head}\n{result.content}\n</tool_result>"


# -- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedCall:
    """One call block found in a reply. ``parse_error`` is set when the block is unusable;
    such a call must still get an (error) result. ``raw_arguments`` is the canonical JSON of
    the arguments for a good call, the text as written for a malformed one."""

    name: str
    arguments: JSONObject
    raw_arguments: str
    parse_error: str | None = None

    def to_tool_call(self, call_id: str = "") -> ToolCall:
        """The canonical call. A block without a usable name is named ``UNNAMED_CALL``: providers
        reject an empty function name, and the conversation may later be sent natively."""
        return ToolCall(
            id=call_id,
            name=self.name or UNNAMED_CALL,
            arguments=dict(self.arguments),
            raw_arguments=self.raw_arguments,
            parse_error=self.parse_error,
        )


_BLOCK = re.compile(re.escape(CALL_OPEN) + r"(.*?)" + re.escape(CALL_CLOSE), re.S)
# The exact shape format_tool_call writes: lets a malformed block keep its name and raw arguments.
_SHAPE = re.compile(r'\{"name": ("(?:[^"\\]|\\.)*"), "arguments": (.*)\}', re.S)
_NAME = re.compile(r'"name"\s*:\s*("(?:[^"\\]|\\.)*")')
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def parse_tool_calls(text: str) -> tuple[str, list[ParsedCall]]:
    """Every call block of ``text``, in order, and the text without them.

    A block that is not one JSON object with a string ``name`` and an object ``arguments`` (an
    ``arguments`` string holding a JSON object is accepted) comes back with ``parse_error`` set;
    so does an unterminated block at the end. The remaining text has blank-line runs collapsed
    and is stripped.
    """
    if CALL_OPEN not in text:  # the common text-only reply: no regex work
        return text.strip(), []
    calls: list[ParsedCall] = []
    pieces: list[str] = []
    pos = 0
    for match in _BLOCK.finditer(text):
        pieces.append(text[pos : match.start()])
        calls.append(_parse_block(match.group(1).strip()))
        pos = match.end()
    rest = text[pos:]
    cut = rest.find(CALL_OPEN)
    if cut >= 0:
        body = rest[cut + len(CALL_OPEN) :].strip()
        calls.append(_malformed(body, f"unterminated {CALL_OPEN} block (no {CALL_CLOSE})"))
        rest = rest[:cut]
    pieces.append(rest)
    remaining = _BLANK_RUNS.sub("\n\n", "".join(pieces)).strip()
    return remaining, calls


def _parse_block(body: str) -> ParsedCall:
    try:
        obj = json.loads(body)
    except ValueError as exc:
        return _malformed(body, f"invalid JSON in {CALL_OPEN} block: {exc}")
    if not isinstance(obj, dict):
        return _malformed(body, f"a {CALL_OPEN} block must hold a JSON object, got {type(obj).__name__}")
    name, arguments = obj.get("name"), obj.get("arguments")
    if not isinstance(name, str) or not name:
        return _malformed(body, f'a {CALL_OPEN} block needs a "name" string')
    if isinstance(arguments, str):  # some models send OpenAI-style stringified arguments
        with contextlib.suppress(ValueError):
            arguments = json.loads(arguments)
    if not isinstance(arguments, dict):
        got = "missing" if "arguments" not in obj else f"a {type(arguments).__name__}"
        return ParsedCall(
            name, {}, canonical_json(obj.get("arguments")), f'"arguments" of {name} must be a JSON object, got {got}'
        )
    return ParsedCall(name, arguments, canonical_json(arguments))


def _malformed(body: str, reason: str) -> ParsedCall:
    shape = _SHAPE.fullmatch(body)
    if shape:
        return ParsedCall(_json_str(shape.group(1)), {}, shape.group(2), reason)
    found = _NAME.search(body)
    return ParsedCall(_json_str(found.group(1)) if found else "", {}, body, reason)


def _json_str(literal: str) -> str:
    try:
        value = json.loads(literal)
    except ValueError:
        return ""
    return value if isinstance(value, str) else ""
