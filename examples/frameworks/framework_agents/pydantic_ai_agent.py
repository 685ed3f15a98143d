"""The example agent on pydantic-ai: the workspace tools, and ``mark_task_complete`` as the output
tool that ends the run; OpenAI Chat Completions or Anthropic Messages as the cell's route says."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from pydantic import BaseModel
from pydantic_ai import Agent, ModelRetry, Tool, ToolOutput

from pytest_kylecode.byo import AgentReport, CellContext
from pytest_kylecode.byo.frameworks import pydantic_ai

from .workspace import FINISH, SYSTEM, ToolFailed, tools


class Summary(BaseModel):
    summary: str


def _retry_on_failure(tool: Callable[..., str]) -> Callable[..., str]:
    """pydantic-ai lets a tool's exception end the run; ``ModelRetry`` sends the model the error."""

    @wraps(tool)
    def call(*args: object, **kwargs: object) -> str:
        try:
            return tool(*args, **kwargs)
        except ToolFailed as exc:
            raise ModelRetry(str(exc)) from None

    return call


def run(ctx: CellContext) -> AgentReport:
    agent = Agent(
        pydantic_ai.model(ctx),
        instructions=SYSTEM,
        tools=[Tool(_retry_on_failure(tool)) for tool in tools(ctx.workspace) if tool.__name__ != FINISH],
        output_type=ToolOutput(Summary, name=FINISH, description="Call when the task is done, with a summary."),
    )
    return pydantic_ai.run(ctx, agent, finish_tools=[FINISH])
