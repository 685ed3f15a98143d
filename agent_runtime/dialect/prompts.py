"""Tools described in the prompt: the system and tools prompts (Jinja2 templates shipped with
the package) and the request of one call in either tool mode.

Templates are compiled once per process; rendering is pure, so a request is reproducible byte
for byte.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, assert_never

from agent_runtime.dialect.blocks import CALL_CLOSE, CALL_OPEN, format_call_block, format_tool_result
from agent_runtime.messages import (
    AssistantMessage,
    Message,
    ModelRequest,
    SystemMessage,
    ToolMode,
    ToolResult,
    ToolSpec,
    UserMessage,
    canonical_json,
)

if TYPE_CHECKING:
    import jinja2

__all__ = ["prepare_request", "render_system_prompt", "render_tools_prompt"]


# -- templates ----------------------------------------------------------------------------------


@functools.cache
def _environment() -> jinja2.Environment:
    # Imported here: jinja2 is only needed once a prompt is rendered. auto_reload=False keeps
    # get_template from stat()ing the file on every call; the templates ship with the package.
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("agent_runtime.dialect", "templates"),
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

    __slots__ = ("_hash", "specs")

    def __init__(self, specs: tuple[ToolSpec, ...]) -> None:
        self.specs = specs
        self._hash = hash(tuple(map(id, specs)))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Specs)
            and len(other.specs) == len(self.specs)
            and all(a is b for a, b in zip(self.specs, other.specs, strict=True))
        )


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
        return ModelRequest(list(conversation), list(tools) or None, stream=stream, max_tokens=max_tokens)
    if mode == "text":
        return ModelRequest(_text_messages(conversation, tools), None, stream=stream, max_tokens=max_tokens)
    assert_never(mode)


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
            blocks = "\n".join(format_call_block(c) for c in msg.tool_calls)
            text = f"{msg.text}\n\n{blocks}" if msg.text else blocks
            out.append(AssistantMessage(text=text, reasoning=msg.reasoning))
        else:
            out.append(msg)
    if results:
        out.append(UserMessage("\n\n".join(results)))
    if not system_done:
        out.insert(0, SystemMessage(prompt))
    return out
