"""The example agent on openai-agents: one ``Agent`` with the workspace tools, stopping at
``mark_task_complete``; Chat Completions or Responses as the cell's route says."""

from __future__ import annotations

from agents import Agent, StopAtTools, function_tool

from pytest_kylecode.byo import AgentReport, CellContext
from pytest_kylecode.byo.frameworks import openai_agents

from .workspace import FINISH, SYSTEM, tools


def run(ctx: CellContext) -> AgentReport:
    agent = Agent(
        name="coder",
        instructions=SYSTEM,
        tools=[function_tool(tool) for tool in tools(ctx.workspace)],
        tool_use_behavior=StopAtTools(stop_at_tool_names=[FINISH]),
    )
    return openai_agents.run(ctx, agent)
