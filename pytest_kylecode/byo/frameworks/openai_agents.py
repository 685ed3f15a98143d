"""openai-agents in a matrix cell: the model from the ``CellContext``, the report from the run's items.

::

    from agents import Agent, StopAtTools
    from pytest_kylecode.byo.frameworks import openai_agents

    def run(ctx):
        agent = Agent(name="coder", instructions="...", tools=[...],
                      tool_use_behavior=StopAtTools(stop_at_tool_names=["mark_task_complete"]))
        return openai_agents.run(ctx, agent)

What is handled:

- **the model**: ``OpenAIChatCompletionsModel`` for a Chat Completions route,
  ``OpenAIResponsesModel`` for a Responses route, both on ``ctx.async_openai_client()`` (the
  cell's fault, cassette and metering; the SDK's retries back off on the cell clock). It is set
  as ``RunConfig.model``, which every agent of the run (handoffs included) uses.
- **tracing**: the SDK exports traces to api.openai.com by default, from a background thread,
  outside the cell's client. ``run_config`` turns tracing off for the run
  (``RunConfig(tracing_disabled=True)``, the SDK's public per-run switch; no global is changed).
- **``prompt_cache_key``**: the runner sends a new ``agents-sdk:run:<uuid>`` in every run; the
  harness's request matching ignores that field by default, so replay needs no configuration.

The report reads ``RunResult.new_items`` (or, when the run raised, the partial items the SDK
attaches to its exception, or those a streamed run had produced): each ``tool_call_item`` is a
call, each ``tool_call_output_item`` its result. A result is an error when the tool failed: the
SDK then sends the model the text of its ``failure_error_function`` (the default one unless
``tool_error=`` says otherwise). A run that stopped at one of the agent's ``StopAtTools``
completes with ``tool_finish``, one that ended on the model's final answer with
``provider_signal``; ``MaxTurnsExceeded`` is ``max_steps``; any other exception (a provider error
the SDK's retries gave up on, or the SDK tripping over a broken answer) is ``failed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pytest_kylecode.byo.agent_report import AgentReport
from pytest_kylecode.byo.frameworks.history import ToolHistory

if TYPE_CHECKING:
    from agents import Agent, Model, RunConfig, RunItem, RunResultBase, TResponseInputItem

    from pytest_kylecode.byo.context import CellContext

__all__ = ["failed", "model", "report", "run", "run_async", "run_config"]

ToolError = Callable[[str], bool]


def model(ctx: CellContext) -> Model:
    """The SDK's model for the cell's route, on the cell's async OpenAI client."""
    from agents import OpenAIChatCompletionsModel, OpenAIResponsesModel

    client = ctx.async_openai_client()
    if ctx.protocol == "openai_responses":
        return OpenAIResponsesModel(model=ctx.model, openai_client=client)
    if ctx.protocol == "openai_chat":
        return OpenAIChatCompletionsModel(model=ctx.model, openai_client=client)
    raise ValueError(
        f"openai-agents speaks OpenAI's Chat Completions and Responses APIs; the cell's route {ctx.route} "
        f"speaks {ctx.protocol}: exclude it from the scenario's matrix"
    )


def run_config(ctx: CellContext, **kwargs: Any) -> RunConfig:
    """A ``RunConfig`` with the cell's model and tracing off; ``kwargs`` go to ``RunConfig`` (and win)."""
    from agents import RunConfig

    kwargs.setdefault("tracing_disabled", True)
    if "model" not in kwargs:
        kwargs["model"] = model(ctx)
    return RunConfig(**kwargs)


async def run_async(
    ctx: CellContext,
    agent: Agent[Any],
    input: str | list[TResponseInputItem] | None = None,
    *,
    config: RunConfig | None = None,
    max_turns: int | None = None,
    tool_error: ToolError | None = None,
) -> AgentReport:
    """Run ``agent`` on ``input`` (default: the cell's task), streamed when the cell is, as a report."""
    from agents import Runner

    config = config if config is not None else run_config(ctx)
    task = ctx.task if input is None else input
    turns = max_turns if max_turns is not None else ctx.config.max_steps
    finish = _finish_tools(agent)
    if not ctx.streaming:
        try:
            result: RunResultBase = await Runner.run(agent, task, run_config=config, max_turns=turns)
        except Exception as exc:
            return failed(exc, tool_error=tool_error)
        return report(result, finish_tools=finish, tool_error=tool_error)
    streamed = Runner.run_streamed(agent, task, run_config=config, max_turns=turns)
    try:
        async for _ in streamed.stream_events():
            pass
    except Exception as exc:
        return failed(exc, items=streamed.new_items, tool_error=tool_error)
    return report(streamed, finish_tools=finish, tool_error=tool_error)


def run(
    ctx: CellContext,
    agent: Agent[Any],
    input: str | list[TResponseInputItem] | None = None,
    *,
    config: RunConfig | None = None,
    max_turns: int | None = None,
    tool_error: ToolError | None = None,
) -> AgentReport:
    """``run_async`` to completion, for a synchronous factory or test body."""
    return asyncio.run(run_async(ctx, agent, input, config=config, max_turns=max_turns, tool_error=tool_error))


def report(
    result: RunResultBase, *, finish_tools: Sequence[str] = (), tool_error: ToolError | None = None
) -> AgentReport:
    """The report of a run that returned: its tool calls and results, and how it ended."""
    history = _history(result.new_items, tool_error)
    history.steps = len(result.raw_responses)
    return history.ended(finish_tools=frozenset(finish_tools))


def failed(
    exc: BaseException, *, items: Sequence[RunItem] | None = None, tool_error: ToolError | None = None
) -> AgentReport:
    """The report of a run that raised ``exc``: the items so far (``items``, else those the SDK
    attached to the exception), ``max_steps`` for ``MaxTurnsExceeded``, else ``failed``."""
    from agents import AgentsException, MaxTurnsExceeded

    run_data = exc.run_data if isinstance(exc, AgentsException) else None
    if items is None:
        items = run_data.new_items if run_data is not None else []
    history = _history(items, tool_error)
    history.steps = len(run_data.raw_responses) if run_data is not None else _model_turns(items)
    return history.failed(exc, max_steps=isinstance(exc, MaxTurnsExceeded))


def _history(items: Sequence[RunItem], tool_error: ToolError | None) -> ToolHistory:
    from agents import ToolCallItem, ToolCallOutputItem

    is_error = tool_error if tool_error is not None else _default_tool_error()
    history = ToolHistory()
    for item in items:
        if isinstance(item, ToolCallItem):
            raw = item.raw_item
            call_id, name, arguments = _field(raw, "call_id"), _field(raw, "name"), _field(raw, "arguments")
            if isinstance(name, str):  # a function call (hosted tools have no name and no result here)
                history.call(call_id, name, arguments)
        elif isinstance(item, ToolCallOutputItem):
            output = _field(item.raw_item, "output")
            history.result(_field(item.raw_item, "call_id"), error=isinstance(output, str) and is_error(output))
    return history


def _model_turns(items: Sequence[RunItem]) -> int:
    """Model responses acted on, for a run whose responses the SDK did not keep: one per batch of
    tool calls or message, as the items arrive."""
    turns, previous = 0, ""
    for item in items:
        kind = item.type
        if kind in ("tool_call_item", "message_output_item") and previous not in ("tool_call_item",):
            turns += 1
        previous = kind
    return turns


def _field(raw: object, name: str) -> object:
    """A field of an item's raw payload, a pydantic model or a plain dict depending on the item."""
    return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)


def _finish_tools(agent: Agent[Any]) -> tuple[str, ...]:
    behavior = agent.tool_use_behavior
    if isinstance(behavior, dict):
        return tuple(behavior.get("stop_at_tool_names", ()))
    return ()


def _default_tool_error() -> ToolError:
    """The SDK's default tool failure text, asked of the SDK (it ignores both arguments)."""
    from agents import RunContextWrapper
    from agents.tool import default_tool_error_function

    text = default_tool_error_function(RunContextWrapper(context=None), Exception())
    return lambda output: output == text
