"""LangGraph with langchain-openai in a matrix cell: the chat model from the ``CellContext``, the
report from the graph's messages.

::

    from langchain.agents import create_agent
    from pytest_kylecode.byo.frameworks import langgraph as kc

    def run(ctx):
        graph = create_agent(kc.chat_openai(ctx), tools=[...])
        return kc.run(ctx, graph, finish_tools=["mark_task_complete"])

What is handled:

- **the model**: ``ChatOpenAI`` builds its own openai clients unless it is given them; its
  ``client`` / ``async_client`` (and ``root_client`` / ``root_async_client``, which the Responses
  API path uses) are set to the cell's SDK clients, so every call crosses the cell (fault,
  cassette, metering) and the SDK's retries back off on the cell clock. ``streaming`` follows the
  cell; ``use_responses_api`` follows the route (``openai-responses/...``).

The report reads the graph's final ``messages`` (on an exception, none are returned: the report
then has no tool calls): each ``AIMessage.tool_calls`` entry is a call (``invalid_tool_calls`` a
call whose arguments did not parse), each ``ToolMessage`` its result, an error when its
``status`` is ``error``. ``GraphRecursionError`` is ``max_steps``; any other exception ``failed``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pytest_kylecode.byo.agent_report import AgentReport
from pytest_kylecode.byo.frameworks.history import ToolHistory

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_openai import ChatOpenAI

    from pytest_kylecode.byo.context import CellContext

__all__ = ["chat_openai", "failed", "report", "run"]


def chat_openai(ctx: CellContext, **kwargs: Any) -> ChatOpenAI:
    """``ChatOpenAI`` for the cell's route on the cell's openai clients; ``kwargs`` go to ``ChatOpenAI``."""
    from langchain_openai import ChatOpenAI
    from pydantic import SecretStr

    if ctx.protocol not in ("openai_chat", "openai_responses"):
        raise ValueError(f"ChatOpenAI speaks OpenAI's APIs; the cell's route {ctx.route} speaks {ctx.protocol}")
    sync, async_ = ctx.openai_client(), ctx.async_openai_client()
    kwargs.setdefault("streaming", ctx.streaming)
    kwargs.setdefault("use_responses_api", ctx.protocol == "openai_responses")
    return ChatOpenAI(
        model=ctx.model,
        api_key=SecretStr(ctx.api_key),
        base_url=ctx.base_url,
        client=sync.chat.completions,
        async_client=async_.chat.completions,
        root_client=sync,
        root_async_client=async_,
        **kwargs,
    )


def run(ctx: CellContext, graph: Any, prompt: str | None = None, *, finish_tools: Sequence[str] = ()) -> AgentReport:
    """``graph.invoke`` on the prompt (default: the cell's task) as a report; the recursion limit
    allows the scenario's ``max_steps`` model turns (two graph steps each)."""
    try:
        state = graph.invoke(
            {"messages": [("user", ctx.task if prompt is None else prompt)]},
            {"recursion_limit": 2 * ctx.config.max_steps + 1},
        )
    except Exception as exc:
        return failed(exc)
    return report(state["messages"], finish_tools=finish_tools)


def report(messages: Sequence[BaseMessage], *, finish_tools: Sequence[str] = ()) -> AgentReport:
    """The report of a run that returned, from the graph's final messages."""
    return _history(messages).ended(finish_tools=frozenset(finish_tools))


def failed(exc: BaseException, messages: Sequence[BaseMessage] = ()) -> AgentReport:
    """The report of a run that raised ``exc`` (``max_steps`` for the graph's recursion limit)."""
    from langgraph.errors import GraphRecursionError

    return _history(messages).failed(exc, max_steps=isinstance(exc, GraphRecursionError))


def _history(messages: Sequence[BaseMessage]) -> ToolHistory:
    from langchain_core.messages import AIMessage, ToolMessage

    history = ToolHistory()
    for message in messages:
        if isinstance(message, AIMessage):
            history.steps += 1
            for call in message.tool_calls:
                history.call(call["id"], call["name"], call["args"])
            for invalid in message.invalid_tool_calls:
                history.call(invalid["id"], str(invalid["name"]), _raw(invalid))
        elif isinstance(message, ToolMessage):
            history.result(message.tool_call_id, error=message.status == "error")
    return history


def _raw(invalid: Mapping[str, Any]) -> str:
    """An invalid call's arguments as sent (never a JSON object, or it would have parsed)."""
    args = invalid.get("args")
    return args if isinstance(args, str) and args.strip() else "<unparsable>"
