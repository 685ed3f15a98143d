"""The text dialect: tools described in the prompt, calls written as text.

Used when a cell runs with ``tools: text`` or when a route rejects native tools
(``tools_unsupported`` -> ``override_tools``). A call is one block, on lines of
its own, holding one JSON object::

    <tool_call>
    {"name": "list_dir", "arguments": {"path": "."}}
    </tool_call>

The provider emulator writes calls with ``format_tool_call``, so the runtime's
parser and the emulator agree on the format by construction.

Results go back to the model as user messages holding one block per result::

    <tool_result id="call_t1_0" name="list_dir">
    README.md
    </tool_result>

``prepare_request`` turns the canonical conversation into the request of one
call in either tool mode; ``parse_tool_calls`` pulls call blocks out of a reply.
Both are pure and deterministic (sorted JSON keys), so a request is
reproducible byte for byte. Templates are compiled once per process.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .messages import (
    AssistantMessage,
    Message,
    ModelRequest,
    SystemMessage,
    ToolCall,
    ToolMode,
    ToolResult,
    ToolSpec,
    UserMessage,
)

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "CALL_CLOSE",
    "CALL_OPEN",
    "UNNAMED_CALL",
    "ParsedCall",
    "canonical_json",
    "format_tool_call",
    "format_tool_result",
    "parse_tool_calls",
    "prepare_request",
    "render_system_prompt",
    "render_tools_prompt",
]

CALL_OPEN = "<tool_call>"
CALL_CLOSE = "</tool_call>"
UNNAMED_CALL = "unnamed_tool_call"


# One encoder instance: json.dumps with non-default options builds a new encoder per call,
# which is most of the cost of rendering a long conversation in text mode.
_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def format_tool_call(name: str, arguments: dict[str, Any] | str) -> str:
    """One call block. ``arguments`` given as a string is inserted verbatim (to write malformed calls)."""
    args = arguments if isinstance(arguments, str) else _CANONICAL.encode(arguments)
    return f'{CALL_OPEN}\n{{"name": {json.dumps(name)}, "arguments": {args}}}\n{CALL_CLOSE}'


def canonical_json(value: Any) -> str:
    """The one JSON spelling used in prompts and call signatures (sorted keys, unicode kept)."""
    return _CANONICAL.encode(value)


# -- templates ----------------------------------------------------------------------------------


@functools.cache
def _environment() -> jinja2.Environment:
    # Imported here: jinja2 is only needed once a prompt is rendered. auto_reload=False keeps
    # get_template from stat()ing the file on every call; the templates ship with the package.
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agent_runtime", "templates"),
        autoescape=False,  # prompts are plain text, not HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        auto_reload=False,
    )
    env.filters["canonical_json"] = canonical_json
    return env


@functools.cache
def _template(name: str) -> jinja2.Template:
    return _environment().get_template(name)


def render_tools_prompt(tools: list[ToolSpec]) -> str:
    """The tool descriptions and the call format, as appended to the system prompt in text mode.

    Memoized on the identity of the specs (a run offers the same ``ToolSpec`` objects every
    turn); a spec's ``parameters`` must not be mutated once offered.
    """
    return _tools_prompt(_Specs(tuple(tools)))


class _Specs:
    """Specs compared by identity: ``ToolSpec`` holds a dict, so it cannot be hashed by value.
    The cache keeps a reference, so an id cannot be reused while its entry lives."""

    __slots__ = ("specs", "_hash")

    def __init__(self, specs: tuple[ToolSpec, ...]) -> None:
        self.specs = specs
        self._hash = hash(tuple(map(id, specs)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, _Specs) and len(other.specs) == len(self.specs)
                and all(a is b for a, b in zip(self.specs, other.specs)))


@functools.lru_cache(maxsize=64)
def _tools_prompt(key: _Specs) -> str:
    return _template("tools_prompt.j2").render(tools=key.specs, call_open=CALL_OPEN, call_close=CALL_CLOSE).strip()


def render_system_prompt(*, finish_tool: str | None, sentinels: tuple[str, ...] = ()) -> str:
    """The default system prompt. It names only the completion signals the run will accept."""
    return _template("system.j2").render(finish_tool=finish_tool, sentinels=sentinels).strip()


# -- requests -----------------------------------------------------------------------------------


def prepare_request(
    conversation: list[Message], tools: list[ToolSpec], mode: ToolMode, *, stream: bool, max_tokens: int
) -> ModelRequest:
    """The request for one model call.

    ``native``: the messages as they are, ``tools`` the specs (``None`` when there are none, since
    providers reject an empty tool list). ``text``: the tool prompt appended to the first system
    message (one is inserted when there is none), assistant tool calls written back as call blocks
    after the assistant text, each run of consecutive ``ToolResult`` as one user message of result
    blocks, and ``tools=None``. The input conversation is never modified.
    """
    if mode == "native":
        return ModelRequest(messages=list(conversation), tools=list(tools) or None, stream=stream, max_tokens=max_tokens)
    return ModelRequest(messages=_text_messages(conversation, tools), tools=None, stream=stream, max_tokens=max_tokens)


def _text_messages(conversation: list[Message], tools: list[ToolSpec]) -> list[Message]:
    out: list[Message] = []
    results: list[str] = []
    prompt = render_tools_prompt(tools) if tools else ""
    system_done = not prompt
    for msg in conversation:
        if isinstance(msg, ToolResult):
            results.append(format_tool_result(msg))
            continue
        if results:
            out.append(UserMessage("\n\n".join(results)))
            results = []
        if isinstance(msg, SystemMessage) and not system_done:
            out.append(SystemMessage(f"{msg.content}\n\n{prompt}" if msg.content else prompt))
            system_done = True
        elif isinstance(msg, AssistantMessage) and msg.tool_calls:
            blocks = "\n".join(_call_block(c) for c in msg.tool_calls)
            text = f"{msg.text}\n\n{blocks}" if msg.text else blocks
            out.append(AssistantMessage(text=text, reasoning=msg.reasoning))
        else:
            out.append(msg)
    if results:
        out.append(UserMessage("\n\n".join(results)))
    if not system_done:
        out.insert(0, SystemMessage(prompt))
    return out


def _call_block(call: ToolCall) -> str:
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
    return f"<tool_result id={json.dumps(result.call_id)} name={json.dumps(result.name)}{error}>\n{result.content}\n</tool_result>"


# -- parsing ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedCall:
    """One call block found in a reply. ``parse_error`` is set when the block is unusable;
    such a call must still get an (error) result. ``raw_arguments`` is the canonical JSON of
    the arguments for a good call, the text as written for a malformed one."""

    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    parse_error: str | None = None

    def to_tool_call(self, call_id: str = "") -> ToolCall:
        """The canonical call. A block without a usable name is named ``UNNAMED_CALL``: providers
        reject an empty function name, and the conversation may later be sent natively."""
        return ToolCall(id=call_id, name=self.name or UNNAMED_CALL, arguments=dict(self.arguments),
                        raw_arguments=self.raw_arguments, parse_error=self.parse_error)


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
        pieces.append(text[pos:match.start()])
        calls.append(_parse_block(match.group(1).strip()))
        pos = match.end()
    rest = text[pos:]
    cut = rest.find(CALL_OPEN)
    if cut >= 0:
        body = rest[cut + len(CALL_OPEN):].strip()
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
        try:
            arguments = json.loads(arguments)
        except ValueError:
            pass
    if not isinstance(arguments, dict):
        got = "missing" if "arguments" not in obj else f"a {type(arguments).__name__}"
        return ParsedCall(name, {}, canonical_json(obj.get("arguments")),
                          f'"arguments" of {name} must be a JSON object, got {got}')
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
