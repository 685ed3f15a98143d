"""Test doubles shipped with the library, so users can unit-test configs and tools offline.

``ScriptedModel`` implements ``model.Model`` from a script of turns, the same
provider-neutral shape as a scenario's ``script:``::

    model = ScriptedModel([
        {"tool_calls": [{"name": "list_dir", "arguments": {"path": "."}}]},
        {"text": "Done.", "tool_calls": [{"name": "mark_task_complete", "arguments": {"summary": "listed"}}]},
    ])
    result = Agent(AgentConfig(), model, tmp_path).run("List the workspace.")

A turn is a mapping (or ``ScriptedTurn``) with ``text``, ``tool_calls``, ``finish`` (default
``tool_calls`` when the turn has calls natively, else ``stop``), ``reasoning`` and ``route``.
A call is ``{name, arguments, id?}``: ``arguments`` given as a string is sent as raw text (a
string that is not a JSON object becomes a call with ``parse_error``, as the normalizer does);
without ``id`` the call gets ``scripted_<turn>_<n>``, and ``id: ""`` sends a call with no id.
In ``tool_mode="text"`` the calls are written into the text as call blocks, as the provider
emulator does. Past the end of the script the last turn repeats (as the emulator does).
``fail_at={turn: RunFailed | category}`` raises at those turns instead of answering.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NotRequired, TypedDict

from agent_runtime.dialect import format_tool_call, prepare_request
from agent_runtime.errors import RunFailed
from agent_runtime.loop.model import ModelTurn
from agent_runtime.messages import (
    FinishReason,
    JSONObject,
    Message,
    ModelRequest,
    ModelResponse,
    ToolCall,
    ToolMode,
    ToolSpec,
    Usage,
)

__all__ = ["ScriptedCall", "ScriptedModel", "ScriptedTurn", "ScriptedTurnSpec"]


class ScriptedCall(TypedDict):
    """One call of a scripted turn: ``arguments`` as an object, or as raw text (sent verbatim)."""

    name: str
    arguments: NotRequired[JSONObject | str]
    id: NotRequired[str]


class ScriptedTurnSpec(TypedDict, total=False):
    """A scripted turn written as a mapping (``ScriptedTurn.coerce`` checks its keys at run time too)."""

    text: str
    tool_calls: Sequence[ScriptedCall]
    finish: FinishReason | None
    reasoning: str
    route: str | None


@dataclass(frozen=True, slots=True)
class ScriptedTurn:
    text: str = ""
    tool_calls: tuple[ScriptedCall, ...] = ()
    finish: FinishReason | None = None
    reasoning: str = ""
    route: str | None = None

    @classmethod
    def coerce(cls, turn: ScriptedTurn | ScriptedTurnSpec) -> ScriptedTurn:
        if isinstance(turn, ScriptedTurn):
            return turn
        unknown = set(turn) - {"text", "tool_calls", "finish", "reasoning", "route"}
        if unknown:
            raise ValueError(f"unknown keys in scripted turn: {sorted(unknown)}")
        return cls(
            text=turn.get("text", ""),
            tool_calls=tuple(turn.get("tool_calls", ())),
            finish=turn.get("finish"),
            reasoning=turn.get("reasoning", ""),
            route=turn.get("route"),
        )


@dataclass
class ScriptedModel:
    """A ``Model`` that plays ``turns`` in order and records what it was asked.

    ``conversations[i]`` is a copy of the conversation of call ``i``; ``requests[i]`` the
    ``ModelRequest`` that conversation becomes in this model's tool mode (via
    ``dialect.prepare_request``), ``turns_seen[i]`` the turn number the loop passed.
    """

    turns: Sequence[ScriptedTurn | ScriptedTurnSpec]
    route: str = "scripted/model"
    tool_mode: ToolMode = "native"
    fail_at: Mapping[int, RunFailed | str] = field(default_factory=dict)
    stream: bool = False
    conversations: list[list[Message]] = field(default_factory=list, init=False)
    requests: list[ModelRequest] = field(default_factory=list, init=False)
    turns_seen: list[int] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        if not self.turns:
            raise ValueError("a ScriptedModel needs at least one turn")
        self._script = [ScriptedTurn.coerce(t) for t in self.turns]

    @property
    def calls(self) -> int:
        return len(self.conversations)

    def complete(self, conversation: list[Message], tools: list[ToolSpec], turn: int) -> ModelTurn:
        self.conversations.append(list(conversation))
        self.requests.append(prepare_request(conversation, tools, self.tool_mode, stream=self.stream, max_tokens=4096))
        self.turns_seen.append(turn)
        index = len(self.conversations)
        failure = self.fail_at.get(index)
        if failure is not None:
            raise failure if isinstance(failure, RunFailed) else RunFailed(failure, f"scripted failure at turn {index}")
        step = self._script[min(index, len(self._script)) - 1]
        return ModelTurn(self._response(step, index), step.route or self.route, self.tool_mode)

    def _response(self, step: ScriptedTurn, index: int) -> ModelResponse:
        calls = [_tool_call(spec, index, n) for n, spec in enumerate(step.tool_calls, start=1)]
        text = step.text
        if self.tool_mode == "text" and step.tool_calls:
            blocks = [format_tool_call(spec["name"], spec.get("arguments", {})) for spec in step.tool_calls]
            text = "\n\n".join([text, *blocks]) if text else "\n\n".join(blocks)
            calls = []
        finish = step.finish or ("tool_calls" if calls else "stop")
        return ModelResponse(
            text=text,
            reasoning=step.reasoning,
            tool_calls=calls,
            finish_reason=finish,
            raw_finish_reason=finish,
            usage=Usage(10, 5),
            model=self.route.split("/", 1)[-1],
        )


def _tool_call(spec: ScriptedCall, turn: int, n: int) -> ToolCall:
    call_id = spec.get("id", f"scripted_{turn}_{n}")
    arguments = spec.get("arguments", {})
    if isinstance(arguments, str):
        try:
            parsed = json.loads(arguments)
        except ValueError as exc:
            return ToolCall(call_id, spec["name"], {}, arguments, f"invalid JSON arguments: {exc}")
        if not isinstance(parsed, dict):
            return ToolCall(call_id, spec["name"], {}, arguments, "arguments are not a JSON object")
        return ToolCall(call_id, spec["name"], parsed, arguments)
    return ToolCall(call_id, spec["name"], dict(arguments), json.dumps(arguments, sort_keys=True))
