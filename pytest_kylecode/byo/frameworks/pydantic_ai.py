"""pydantic-ai in a matrix cell: the model from the ``CellContext``, the report from the run's messages.

::

    from pydantic_ai import Agent, ToolOutput
    from pytest_kylecode.byo.frameworks import pydantic_ai as kc

    def run(ctx):
        agent = Agent(kc.model(ctx), instructions="...", tools=[...],
                      output_type=ToolOutput(Summary, name="mark_task_complete"))
        return kc.run(ctx, agent, finish_tools=["mark_task_complete"])

What is handled:

- **the model**: ``OpenAIChatModel`` (Chat Completions routes), ``OpenAIResponsesModel``
  (Responses routes) or ``AnthropicModel`` (Messages routes), each on the cell's async SDK client
  through the provider's ``openai_client=`` / ``anthropic_client=``.
- **Anthropic streams behind the scenes**: with no ``max_tokens`` set, ``AnthropicModel`` asks for
  the model's whole output budget and, as the client has a timeout of its own (the cell's),
  sends that request streamed even from ``agent.run``: a "nostream" cell would then be a stream
  on the wire. ``model`` sets ``max_tokens`` (``MAX_TOKENS`` unless given), which keeps a
  non-streamed request non-streamed.
- **streaming**: ``run`` passes an ``event_stream_handler`` in a streamed cell (pydantic-ai then
  streams every model request) and none otherwise.

The report reads the run's messages (``result.all_messages()``, or on an exception those
``capture_run_messages`` kept): each ``ToolCallPart`` of a model response is a call, each
``ToolReturnPart`` of the next request its result, an error unless its ``outcome`` is
``success``. A retry prompt that answers a call (``RetryPromptPart`` with the call's id) is an
error result too. ``UsageLimitExceeded`` (the request limit) is ``max_steps``; any other
exception ``failed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from pytest_kylecode.byo.agent_report import AgentReport
from pytest_kylecode.byo.frameworks.history import ToolHistory

if TYPE_CHECKING:
    from pydantic_ai import Agent, RunContext
    from pydantic_ai.messages import AgentStreamEvent, ModelMessage
    from pydantic_ai.models import Model

    from pytest_kylecode.byo.context import CellContext

__all__ = ["MAX_TOKENS", "failed", "model", "report", "run", "run_async"]

MAX_TOKENS: Final = 4096


def model(ctx: CellContext, *, max_tokens: int = MAX_TOKENS) -> Model:
    """pydantic-ai's model for the cell's route, on the cell's async SDK client."""
    from pydantic_ai.settings import ModelSettings

    settings = ModelSettings(max_tokens=max_tokens)
    if ctx.protocol == "anthropic_messages":
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider

        anthropic = AnthropicProvider(anthropic_client=ctx.async_anthropic_client())
        return AnthropicModel(ctx.model, provider=anthropic, settings=settings)
    from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
    from pydantic_ai.providers.openai import OpenAIProvider

    openai = OpenAIProvider(openai_client=ctx.async_openai_client())
    if ctx.protocol == "openai_responses":
        return OpenAIResponsesModel(ctx.model, provider=openai, settings=settings)
    return OpenAIChatModel(ctx.model, provider=openai, settings=settings)


async def _drain(_: RunContext[Any], events: AsyncIterable[AgentStreamEvent]) -> None:
    async for _event in events:
        pass


async def run_async(
    ctx: CellContext,
    agent: Agent[Any, Any],
    prompt: str | None = None,
    *,
    finish_tools: Sequence[str] = (),
    max_requests: int | None = None,
) -> AgentReport:
    """Run ``agent`` on ``prompt`` (default: the cell's task), streamed when the cell is, as a report."""
    from pydantic_ai import capture_run_messages
    from pydantic_ai.usage import UsageLimits

    limits = UsageLimits(request_limit=max_requests if max_requests is not None else ctx.config.max_steps)
    with capture_run_messages() as messages:
        try:
            result = await agent.run(
                ctx.task if prompt is None else prompt,
                usage_limits=limits,
                event_stream_handler=_drain if ctx.streaming else None,
            )
        except Exception as exc:
            return failed(exc, messages)
    return report(result.all_messages(), finish_tools=finish_tools)


def run(
    ctx: CellContext,
    agent: Agent[Any, Any],
    prompt: str | None = None,
    *,
    finish_tools: Sequence[str] = (),
    max_requests: int | None = None,
) -> AgentReport:
    """``run_async`` to completion, for a synchronous factory or test body."""
    return asyncio.run(run_async(ctx, agent, prompt, finish_tools=finish_tools, max_requests=max_requests))


def report(messages: Sequence[ModelMessage], *, finish_tools: Sequence[str] = ()) -> AgentReport:
    """The report of a run that returned, from its messages (``result.all_messages()``)."""
    return _history(messages).ended(finish_tools=frozenset(finish_tools))


def failed(exc: BaseException, messages: Sequence[ModelMessage]) -> AgentReport:
    """The report of a run that raised ``exc``, from the messages ``capture_run_messages`` kept."""
    from pydantic_ai import UsageLimitExceeded
    from pydantic_ai.messages import ModelResponse

    history = _history(messages)
    if messages and isinstance(messages[-1], ModelResponse):
        history.steps -= 1  # the response the run died on (a stream cut or failed mid-way) was not acted on
    return history.failed(exc, max_steps=isinstance(exc, UsageLimitExceeded))


def _history(messages: Sequence[ModelMessage]) -> ToolHistory:
    from pydantic_ai.messages import ModelResponse, RetryPromptPart, ToolCallPart, ToolReturnPart

    history = ToolHistory()
    for message in messages:
        if isinstance(message, ModelResponse):
            history.steps += 1
            for part in message.parts:
                if isinstance(part, ToolCallPart):
                    history.call(part.tool_call_id, part.tool_name, part.args if part.args is not None else "")
            continue
        for request_part in message.parts:
            if isinstance(request_part, ToolReturnPart):
                history.result(request_part.tool_call_id, error=request_part.outcome != "success")
            elif isinstance(request_part, RetryPromptPart) and request_part.tool_name is not None:
                history.result(request_part.tool_call_id, error=True)
    return history
