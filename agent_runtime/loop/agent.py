"""The agent loop: conversation state, tool execution, pairing invariant, loop guards.

One run::

    [system prompt, task]  ->  model.complete(conversation, tool specs, turn)   turn = 1, 2, ...
        -> calls (native, or parsed out of the text in text mode), ids made unique
        -> AssistantMessage(text without call blocks, calls) appended
        -> one ToolResult per call, in call order (malformed calls get an error result)
        -> completion?  loop guard?  text-only turn -> a fixed nudge as the next user message
    until completed | max_steps | loop_guard | failed (the model raised RunFailed)

Invariants of the returned ``RunResult``: every tool call id in ``conversation`` has
exactly one result (``tool_calls_paired``); ids are unique and deterministic (a missing
id becomes ``call_t<turn>_<position>``, a repeated one gets ``_2``, ``_3``...); the run
never raises for provider trouble or tool failures.

Loop guards and the error category they report: both are ``malformed_tool_call``, the
only canonical category about tool calls (scenarios may only expect canonical
categories); ``error_message`` says which guard fired and on which call.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Literal, TypeAlias

from agent_runtime.config import AgentConfig
from agent_runtime.dialect import parse_tool_calls, render_system_prompt
from agent_runtime.errors import ProviderError, RunFailed
from agent_runtime.loop.completion import FINISH_TOOL, CompletionReason, detect_completion
from agent_runtime.loop.model import Model, ModelTurn
from agent_runtime.loop.tools import Tool, ToolContext, ToolOutcome, ToolRegistry, call_signature, default_registry
from agent_runtime.messages import (
    AssistantMessage,
    JSONObject,
    Message,
    SystemMessage,
    ToolCall,
    ToolResult,
    UserMessage,
)

__all__ = ["LOOP_GUARD_CATEGORY", "OUTCOMES", "Agent", "Outcome", "RunResult", "calls_paired"]

Outcome: TypeAlias = Literal["completed", "failed", "max_steps", "loop_guard"]
OUTCOMES: Final[tuple[Outcome, ...]] = ("completed", "failed", "max_steps", "loop_guard")
LOOP_GUARD_CATEGORY: Final = "malformed_tool_call"


@dataclass(slots=True)
class RunResult:
    """What one run did, as measured by expectations, metrics and reports (docs/design.md, scenario format).

    ``steps`` counts the model responses the loop acted on; ``tool_errors`` the error results,
    malformed calls included (``malformed_calls`` counts those alone); ``final_route`` is the
    route of the last successful response; ``metrics`` is filled in by the runner.
    """

    outcome: Outcome
    completion_reason: CompletionReason | None = None
    error_category: str | None = None
    error_message: str | None = None
    steps: int = 0
    conversation: list[Message] = field(default_factory=list)
    tool_sequence: list[str] = field(default_factory=list)
    tool_errors: int = 0
    malformed_calls: int = 0
    tool_calls_paired: bool = True
    final_route: str | None = None
    summary: str | None = None
    metrics: JSONObject | None = None  # the ``ProviderMetricsCollector.snapshot()`` of the run


def calls_paired(conversation: list[Message]) -> bool:
    """True when every call id is non-empty, unique, and answered by exactly one result (and no
    result answers an unknown id)."""
    calls: Counter[str] = Counter()
    results: Counter[str] = Counter()
    for msg in conversation:
        if isinstance(msg, AssistantMessage):
            calls.update(c.id for c in msg.tool_calls)
        elif isinstance(msg, ToolResult):
            results[msg.call_id] += 1
    return "" not in calls and all(n == 1 for n in calls.values()) and results == calls


class Agent:
    """Runs tasks against ``model`` with ``tools`` (default: the workspace tools) in ``workspace``.

    The system prompt is ``config.system_prompt``, else a default naming the completion signals
    ``config.completion`` enables. One ``Agent`` may run several tasks, one at a time.
    """

    def __init__(
        self,
        config: AgentConfig,
        model: Model,
        workspace: Path | str,
        *,
        tools: ToolRegistry | Iterable[Tool] | None = None,
    ) -> None:
        self.config = config
        self.model = model
        if tools is None:
            self.registry = default_registry()
        elif isinstance(tools, ToolRegistry):
            self.registry = tools
        else:
            self.registry = ToolRegistry(tools)
        self.context = ToolContext.for_workspace(workspace, config.tools)
        completion = config.completion
        finish_tool = FINISH_TOOL if completion.tool_finish and self.registry.get(FINISH_TOOL) else None
        if config.system_prompt is not None:
            self.system_prompt = config.system_prompt
        else:
            self.system_prompt = render_system_prompt(finish_tool=finish_tool, sentinels=completion.text_sentinels)
        self.nudge = _nudge(finish_tool, completion.text_sentinels)

    def run(self, task: str) -> RunResult:
        """Run ``task`` to an outcome. Raises only for programming errors, never for provider
        failures (``RunFailed``/``ProviderError`` from the model become outcome ``failed``)."""
        return _Run(self, task).loop()


def _nudge(finish_tool: str | None, sentinels: tuple[str, ...]) -> str:
    ways = []
    if finish_tool:
        ways.append(f"call {finish_tool}")
    if sentinels:
        ways.append(f"write {sentinels[0]} on a line of its own")
    done = f" When the task is done, {' or '.join(ways)}." if ways else ""
    return f"Continue with the task, using the tools.{done}"


class _Run:
    """The state of one run; ``loop`` is the whole per-turn path."""

    def __init__(self, agent: Agent, task: str) -> None:
        self.agent = agent
        self.conversation: list[Message] = [SystemMessage(agent.system_prompt), UserMessage(task)]
        self.result = RunResult(outcome="max_steps", conversation=self.conversation)
        self.seen_ids: set[str] = set()
        self.malformed_streak: dict[tuple[str, str], int] = {}
        self.last_call: tuple[str, str] | None = None
        self.identical_streak = 0

    def loop(self) -> RunResult:
        agent, result = self.agent, self.result
        specs = agent.registry.specs
        for turn in range(1, agent.config.max_steps + 1):
            try:
                model_turn = agent.model.complete(self.conversation, specs, turn)
            except RunFailed as exc:
                outcome: Outcome = next((o for o in OUTCOMES if o == exc.outcome), "failed")
                return self._end(outcome, exc.category, exc.message)
            except ProviderError as exc:  # a Model should raise RunFailed; tolerate the raw error
                return self._end("failed", exc.category, exc.message)
            result.steps += 1
            result.final_route = model_turn.route
            text, calls = self._calls_of(model_turn, turn)
            reasoning = model_turn.response.reasoning
            self.conversation.append(AssistantMessage(text=text, tool_calls=calls, reasoning=reasoning))
            outcomes = agent.registry.execute(calls, agent.context) if calls else []
            executed = self._record(outcomes)
            reason = detect_completion(
                agent.config.completion,
                text=text,
                executed=executed,
                had_tool_calls=bool(calls),
                finish_reason=model_turn.response.finish_reason,
            )
            if reason is not None:
                result.completion_reason = reason
                return self._end("completed")
            guard = self._loop_guard(outcomes)
            if guard is not None:
                return self._end("loop_guard", LOOP_GUARD_CATEGORY, guard)
            if not calls:
                self.conversation.append(UserMessage(agent.nudge))
        return self._end("max_steps", None, f"no completion within max_steps={agent.config.max_steps}")

    def _calls_of(self, model_turn: ModelTurn, turn: int) -> tuple[str, list[ToolCall]]:
        response = model_turn.response
        text, calls = response.text, response.tool_calls
        if model_turn.tool_mode == "text":
            text, parsed = parse_tool_calls(response.text)
            calls = [*calls, *(p.to_tool_call() for p in parsed)]
        return text, self._unique_ids(calls, turn)

    def _unique_ids(self, calls: list[ToolCall], turn: int) -> list[ToolCall]:
        out = []
        for position, call in enumerate(calls, start=1):
            base = call.id or f"call_t{turn}_{position}"
            call_id, n = base, 2
            while call_id in self.seen_ids:
                call_id, n = f"{base}_{n}", n + 1
            self.seen_ids.add(call_id)
            # A new object when the id changes: the model's response is never mutated.
            out.append(call if call_id == call.id else replace(call, id=call_id))
        return out

    def _record(self, outcomes: list[ToolOutcome]) -> list[str]:
        result, executed = self.result, []
        for outcome in outcomes:
            self.conversation.append(outcome.result)
            result.tool_errors += outcome.result.is_error
            result.malformed_calls += outcome.malformed
            if outcome.executed:
                executed.append(outcome.call.name)
                result.tool_sequence.append(outcome.call.name)
                if outcome.call.name == FINISH_TOOL and not outcome.result.is_error:
                    result.summary = outcome.call.arguments.get("summary")
        return executed

    def _loop_guard(self, outcomes: list[ToolOutcome]) -> str | None:
        """Why the run must stop now, or ``None``. Malformed repeats count per turn (the same
        malformed call in consecutive turns); identical repeats count over the sequence of
        well-formed calls (malformed calls are the other guard's business)."""
        guard = self.agent.config.loop_guard
        streak: dict[tuple[str, str], int] = {}
        message = None
        for outcome in outcomes:
            sig = call_signature(outcome.call)
            if outcome.malformed:
                if sig not in streak:
                    streak[sig] = self.malformed_streak.get(sig, 0) + 1
                    if streak[sig] >= guard.malformed_repeats and message is None:
                        message = (
                            f"loop guard: the same malformed call to {sig[0] or '(no name)'!r} was made "
                            f"{streak[sig]} turns in a row ({outcome.result.content})"
                        )
                continue
            self.identical_streak = self.identical_streak + 1 if sig == self.last_call else 1
            self.last_call = sig
            if self.identical_streak >= guard.identical_repeats and message is None:
                message = (
                    f"loop guard: the same call {sig[0]}({_short(sig[1])}) was made "
                    f"{self.identical_streak} times in a row"
                )
        self.malformed_streak = streak
        return message

    def _end(self, outcome: Outcome, category: str | None = None, message: str | None = None) -> RunResult:
        result = self.result
        result.outcome = outcome
        result.error_category = category
        result.error_message = message
        result.tool_calls_paired = calls_paired(self.conversation)
        return result


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
